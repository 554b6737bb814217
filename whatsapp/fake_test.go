package whatsapp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/waqtor/waqtor"
)

// fakeClient implements client without a network. Events are fed with
// dispatch, which runs the registered handlers like whatsmeow's dispatchEvent
// and returns whether one failed (the node would not be acknowledged).
type fakeClient struct {
	mu sync.Mutex

	// Behaviour, set by tests.
	connectFn  func(ctx context.Context) error // default: succeed
	decryptFn  func(evt *events.Message) (*waE2E.PollVoteMessage, error)
	downloadFn func() ([]byte, error)
	logoutErr  error
	onWhatsApp []types.IsOnWhatsAppResponse
	pairCode   string
	sendErr    error
	sendTime   time.Time
	uploadErr  error

	// State.
	connectRunning bool
	connectDone    chan struct{}
	handlers       []whatsmeow.EventHandlerWithSuccessStatus
	id             identity
	lids           map[types.JID]types.JID // pn → lid
	lidMigrated    bool
	loggedIn       bool
	pns            map[types.JID]types.JID // lid → pn

	// Records.
	connects     int
	deleted      bool
	disconnects  int
	downloads    []downloadCall
	logouts      int
	markReads    []markReadCall
	pairs        []pairCall
	presences    []presenceCall
	removed      bool
	sent         []sentCall
	uploads      []uploadCall
	whatsAppAsks [][]string
}

type downloadCall struct {
	DirectPath              string
	EncHash, Hash, MediaKey []byte
	Length                  int
	MediaType               whatsmeow.MediaType
}

type markReadCall struct {
	IDs          []string
	At           time.Time
	Chat, Sender types.JID
}

type pairCall struct {
	Phone   string
	Push    bool
	Type    whatsmeow.PairClientType
	Display string
}

type presenceCall struct {
	JID   types.JID
	State types.ChatPresence
	Media types.ChatPresenceMedia
}

type sentCall struct {
	To    types.JID
	Msg   *waE2E.Message
	Extra []whatsmeow.SendRequestExtra
}

type uploadCall struct {
	Data []byte
	Type whatsmeow.MediaType
}

func newFakeClient(dev *store.Device) *fakeClient {
	f := &fakeClient{lids: map[types.JID]types.JID{}, pns: map[types.JID]types.JID{}, sendTime: time.Unix(1700000000, 0)}
	if dev != nil && dev.ID != nil {
		f.id = identity{JID: *dev.ID, LID: dev.LID, PushName: dev.PushName, Platform: dev.Platform}
	}
	return f
}

func (f *fakeClient) AddEventHandlerWithSuccessStatus(h whatsmeow.EventHandlerWithSuccessStatus) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers = append(f.handlers, h)
	return uint32(len(f.handlers))
}

func (f *fakeClient) RemoveEventHandlers() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers, f.removed = nil, true
}

// dispatch runs the handlers on evt like whatsmeow does and reports whether one
// failed. Connection events update the fake's logged-in flag first, as
// whatsmeow does before dispatching them.
func (f *fakeClient) dispatch(evt any) (handlerFailed bool) {
	f.mu.Lock()
	switch evt.(type) {
	case *events.Connected, *events.KeepAliveRestored:
		f.loggedIn = true
	case *events.Disconnected, *events.LoggedOut, *events.StreamReplaced, *events.TemporaryBan, *events.ClientOutdated:
		f.loggedIn = false
	}
	hs := append([]whatsmeow.EventHandlerWithSuccessStatus(nil), f.handlers...)
	f.mu.Unlock()
	for _, h := range hs {
		if !h(evt) {
			return true
		}
	}
	return false
}

func (f *fakeClient) ConnectContext(ctx context.Context) error {
	f.mu.Lock()
	f.connects++
	fn := f.connectFn
	f.connectRunning = true
	done := make(chan struct{})
	f.connectDone = done
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.connectRunning = false
		f.mu.Unlock()
		close(done)
	}()
	if fn != nil {
		return fn(ctx)
	}
	return nil
}

// Disconnect waits for a running ConnectContext, as whatsmeow's socket lock does.
func (f *fakeClient) Disconnect() {
	f.mu.Lock()
	running, done := f.connectRunning, f.connectDone
	f.mu.Unlock()
	if running {
		<-done
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnects++
	f.loggedIn = false
}

func (f *fakeClient) DecryptPollVote(_ context.Context, evt *events.Message) (*waE2E.PollVoteMessage, error) {
	f.mu.Lock()
	fn := f.decryptFn
	f.mu.Unlock()
	if fn == nil {
		return nil, whatsmeow.ErrOriginalMessageSecretNotFound
	}
	return fn(evt)
}

func (f *fakeClient) DeleteDevice(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = true
	return nil
}

func (f *fakeClient) DownloadMediaWithPath(_ context.Context, directPath string, encFileHash, fileHash, mediaKey []byte, fileLength int, mediaType whatsmeow.MediaType, _ string) ([]byte, error) {
	f.mu.Lock()
	f.downloads = append(f.downloads, downloadCall{directPath, encFileHash, fileHash, mediaKey, fileLength, mediaType})
	fn := f.downloadFn
	f.mu.Unlock()
	if fn == nil {
		return []byte("media bytes"), nil
	}
	return fn()
}

func (f *fakeClient) Identity() identity {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id
}

func (f *fakeClient) IsLoggedIn() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loggedIn
}

func (f *fakeClient) IsOnWhatsApp(_ context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.whatsAppAsks = append(f.whatsAppAsks, phones)
	return f.onWhatsApp, nil
}

func (f *fakeClient) LIDForPN(_ context.Context, pn types.JID) (types.JID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lids[pn.ToNonAD()], nil
}

func (f *fakeClient) LIDMigrated() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lidMigrated
}

func (f *fakeClient) Logout(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logouts++
	if f.logoutErr != nil {
		return f.logoutErr
	}
	f.disconnects++
	f.deleted = true
	f.loggedIn = false
	return nil
}

func (f *fakeClient) MarkRead(_ context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID, _ ...types.ReceiptType) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markReads = append(f.markReads, markReadCall{ids, ts, chat, sender})
	return nil
}

func (f *fakeClient) PairPhone(_ context.Context, phone string, push bool, ct whatsmeow.PairClientType, display string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairs = append(f.pairs, pairCall{phone, push, ct, display})
	return f.pairCode, nil
}

func (f *fakeClient) PNForLID(_ context.Context, lid types.JID) (types.JID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pns[lid.ToNonAD()], nil
}

func (f *fakeClient) SendChatPresence(_ context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.presences = append(f.presences, presenceCall{jid, state, media})
	return nil
}

func (f *fakeClient) SendMessage(_ context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sentCall{to, msg, extra})
	if f.sendErr != nil {
		return whatsmeow.SendResponse{}, f.sendErr
	}
	return whatsmeow.SendResponse{Timestamp: f.sendTime, ID: extra[0].ID}, nil
}

func (f *fakeClient) Upload(_ context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, uploadCall{data, mt})
	if f.uploadErr != nil {
		return whatsmeow.UploadResponse{}, f.uploadErr
	}
	return whatsmeow.UploadResponse{URL: "https://mmg.example/u", DirectPath: "/v/t62/abc", MediaKey: []byte("mediakey"),
		FileEncSHA256: []byte("encsha"), FileSHA256: []byte("sha"), FileLength: uint64(len(data))}, nil
}

func (f *fakeClient) setLID(pn, lid types.JID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lids[pn] = lid
	f.pns[lid] = pn
}

func (f *fakeClient) lastSent(t *testing.T) sentCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		t.Fatal("nothing was sent")
	}
	return f.sent[len(f.sent)-1]
}

func (f *fakeClient) counts() (connects, disconnects int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects, f.disconnects
}

// recorder is the ConnHandler of the tests: it records every call and can fail
// or panic on HandleMessage.
type recorder struct {
	mu        sync.Mutex
	changed   chan struct{}
	failMsg   error
	messages  []*waqtor.InboundMessage
	panicMsg  bool
	presences []*waqtor.InboundPresence
	qrs       []qrCall
	receipts  []*waqtor.Receipt
	statuses  []waqtor.ConnStatus
}

type qrCall struct {
	Code    string
	Expires time.Time
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) note() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) HandleMessage(_ context.Context, m *waqtor.InboundMessage) error {
	r.mu.Lock()
	defer r.note()
	defer r.mu.Unlock()
	if r.panicMsg {
		panic("handler panic")
	}
	if r.failMsg != nil {
		return r.failMsg
	}
	r.messages = append(r.messages, m)
	return nil
}

func (r *recorder) HandleQR(_ context.Context, code string, expires time.Time) {
	r.mu.Lock()
	defer r.note()
	defer r.mu.Unlock()
	r.qrs = append(r.qrs, qrCall{code, expires})
}

func (r *recorder) HandleReceipt(_ context.Context, rc *waqtor.Receipt) error {
	r.mu.Lock()
	defer r.note()
	defer r.mu.Unlock()
	if r.failMsg != nil {
		return r.failMsg
	}
	r.receipts = append(r.receipts, rc)
	return nil
}

func (r *recorder) HandleStatus(_ context.Context, st *waqtor.ConnStatus) {
	r.mu.Lock()
	defer r.note()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, *st)
}

func (r *recorder) HandlePresence(_ context.Context, p *waqtor.InboundPresence) {
	r.mu.Lock()
	defer r.note()
	defer r.mu.Unlock()
	r.presences = append(r.presences, p)
}

func (r *recorder) states() []waqtor.SessionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]waqtor.SessionState, len(r.statuses))
	for i, s := range r.statuses {
		out[i] = s.State
	}
	return out
}

func (r *recorder) lastStatus() waqtor.ConnStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.statuses) == 0 {
		return waqtor.ConnStatus{}
	}
	return r.statuses[len(r.statuses)-1]
}

// waitFor waits until cond holds, re-checking whenever the recorder changes
// (and at least every 5 ms for engine-side state), or fails after timeout.
func (r *recorder) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *recorder) waitState(t testing.TB, st waqtor.SessionState) waqtor.ConnStatus {
	t.Helper()
	r.waitFor(t, "state "+string(st), func() bool { return r.lastStatus().State == st })
	return r.lastStatus()
}

// fakeFactory creates fake clients and remembers them.
type fakeFactory struct {
	mu      sync.Mutex
	clients []*fakeClient
	setup   func(f *fakeClient)
}

func (ff *fakeFactory) newClient(dev *store.Device, _ waLog.Logger) client {
	f := newFakeClient(dev)
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.setup != nil {
		ff.setup(f)
	}
	ff.clients = append(ff.clients, f)
	return f
}

func (ff *fakeFactory) last() *fakeClient {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	return ff.clients[len(ff.clients)-1]
}

func (ff *fakeFactory) count() int {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	return len(ff.clients)
}

var errOffline = errors.New("dial tcp: lookup web.whatsapp.com: no such host")
