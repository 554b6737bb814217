// Package sandbox is a simulated WhatsApp network for tests and demos: a
// [waqtor.Engine] plus virtual phones, in the spirit of net/http/httptest.
// Nothing leaves the process, and no real account or phone is needed.
//
// A test builds a [Network], gives the Core its engine, pairs a session, and
// then drives phones:
//
//	n := sandbox.NewTestNetwork(t, &sandbox.Config{AutoPair: true})
//	core, err := waqtor.NewCore(ctx, &waqtor.Config{Engine: n.Factory(), ...})
//	...
//	alice := n.Phone("+201001234567")
//	alice.SendText(ctx, botJID, "hi")
//	alice.RequireText(t, "Hello! How can I help?")
//
// # Sessions and pairing
//
// Each session the Core opens is a linked device of a WhatsApp account; the
// account is the [Phone] of its number. Conn.Connect reports StateConnecting,
// then (after Config.ConnectLatency) StateReady for a paired session, or
// StateQR and a new QR code every Config.QRInterval for an unpaired one. After
// Config.QRCodes codes without a scan the session reports StateDisconnected
// ("QR code timed out") and stays so until the next Connect. Pair a session
// with [Network.ScanQR] (the code the handler got), [Network.Pair] (whatever
// code it shows), Conn.PairPhone followed by [Network.EnterPairingCode], or
// Config.AutoPair for demos. A session opened with EngineSession.JID set is
// already paired, as after a restart, and connects straight to ready.
//
// # Phones
//
// [Network.Phone] returns the phone of a number. Phones send any content
// ([Phone.SendText], [Phone.SendMedia], [Phone.VotePoll], [Phone.React], ...)
// to sessions' accounts, other phones or groups ([Network.CreateGroup]), and
// record what they receive ([Phone.Received], [Phone.WaitFor],
// [Phone.RequireText]). Inbound messages carry both the phone JID and a LID in
// their addresses; [Phone.SetHidePhone] leaves only the LID, as for users who
// hide their number.
//
// Messages for a session that is not connected queue, in order, until it is.
// A message whose HandleMessage returns an error is not acknowledged and is
// delivered again after Config.RedeliverDelay, before later messages: each
// session's stream of messages and receipts is strictly ordered. When several
// messages are waiting and the handler implements [waqtor.MessageBatchHandler]
// (the Core's does), they go in one HandleMessages call, as an engine hands
// over a burst; a refused batch is delivered again one message at a time.
//
// # Receipts
//
// A phone that receives a message sends a delivered receipt after
// Config.DeliverLatency while it is online ([Phone.SetOnline]), and with
// Config.AutoRead a read receipt after Config.ReadLatency; [Phone.Read] reads
// explicitly. Receipts reach the sender's sessions through HandleReceipt.
// Conn.MarkRead sends read receipts to the authors, visible in [Phone.Sent].
//
// # Faults
//
// [Network.Disconnect] drops a connection (it reconnects after
// Config.ReconnectDelay), [Network.FailSends] fails the next sends (transient,
// or permanent when wrapped with [waqtor.Permanent]), [Network.SetSendLatency]
// slows sends, [Network.Ban] bans an account for a while and
// [Network.LogoutRemote] unlinks a device from the phone's side.
// [Network.SendLog] lists every send attempt, including resends of an ID, which
// phones show only once.
//
// # Determinism
//
// Every generated value comes from Config.Seed: the same non-zero seed and the
// same calls give the same values. The default seed, 0, keeps identities
// (LIDs, AutoPair numbers) stable but draws message and group IDs and codes
// from a random per-run seed, so that a restarted network never repeats the
// message IDs of its last run. QR and pairing codes, LIDs and phones' message IDs
// depend only on the seed and the session or phone they belong to, whatever the
// timing of other sessions; group JIDs and media refs follow the order of the
// calls that create them. Timestamps come from Config.NowFunc; latencies run on
// real timers.
//
// # Concurrency
//
// Everything is safe for concurrent use. Each Conn calls its handler from one
// goroutine, one call at a time, never while holding the network's lock, so
// handlers may call back into the Conn or the Network. [Network.Close] stops
// every goroutine the network started.
package sandbox
