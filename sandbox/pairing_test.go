package sandbox

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

func TestAutoPair(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.AutoPair = true
	b := setup(t, cfg, "")
	require.NoError(t, b.conn.Connect(t.Context()))
	st := b.h.waitStatus(t, waqtor.StateReady)
	require.Equal(t, autoPairNumber(cfg.Seed, "s1")[1:]+"@s.whatsapp.net", st.JID)
	require.Len(t, b.h.qrs(), 1, "the QR code is shown before the automatic pairing")
}

func TestPairPhone(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, "")
	ctx := t.Context()

	_, err := b.conn.PairPhone(ctx, "+201001234567")
	require.ErrorIs(t, err, ErrNotPairing, "PairPhone needs Connect first")

	require.NoError(t, b.conn.Connect(ctx))
	b.h.waitQRs(t, 1)
	_, err = b.conn.PairPhone(ctx, "not a number")
	require.ErrorIs(t, err, waqtor.ErrInvalidPhone)

	code, err := b.conn.PairPhone(ctx, "+20 100 123 4567")
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$`), code)
	info, _ := b.n.Session("s1")
	require.Equal(t, strings.ReplaceAll(code, "-", ""), info.PairingCode)

	require.ErrorIs(t, b.n.EnterPairingCode(ctx, "ZZZZ-ZZZZ"), ErrUnknownCode)
	require.NoError(t, b.n.EnterPairingCode(ctx, " "+strings.ToLower(strings.ReplaceAll(code, "-", ""))))
	st := b.h.waitStatus(t, waqtor.StateReady)
	require.Equal(t, "201001234567@s.whatsapp.net", st.JID)
	require.Equal(t, b.n.Phone("+201001234567").LID(), st.LID)

	require.ErrorIs(t, b.n.EnterPairingCode(ctx, code), ErrUnknownCode, "a code works once")
	_, err = b.conn.PairPhone(ctx, "+201001234567")
	require.ErrorIs(t, err, waqtor.ErrAlreadyPaired)
}

func TestPairByQR(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.NowFunc = func() time.Time { return now }
	b := setup(t, cfg, "")
	ctx := t.Context()

	require.ErrorIs(t, b.n.Pair(ctx, "s1", botNumber), ErrNotPairing, "not connected yet")
	require.NoError(t, b.conn.Connect(ctx))
	qr := b.h.waitQRs(t, 1)[0]
	require.True(t, strings.HasPrefix(qr.code, "2@"), qr.code)
	require.Equal(t, now.Add(time.Minute), qr.expires)
	require.NoError(t, b.n.WaitForState(waitCtx(t), "s1", waqtor.StateQR))
	info, ok := b.n.Session("s1")
	require.True(t, ok)
	require.Equal(t, qr.code, info.QR)

	require.ErrorIs(t, b.n.ScanQR(ctx, "2@nope", botNumber), ErrUnknownCode)
	require.NoError(t, b.n.ScanQR(ctx, qr.code, botNumber))
	st := b.h.waitStatus(t, waqtor.StateReady)
	bot := b.n.Phone(botNumber)
	require.Equal(t, &waqtor.ConnStatus{State: waqtor.StateReady, JID: botJID, LID: bot.LID(), PushName: bot.PushName(),
		Platform: "sandbox", Reason: "logged in"}, st)

	var states []waqtor.SessionState
	for _, s := range b.h.statuses() {
		states = append(states, s.State)
	}
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateQR, waqtor.StateReady}, states)
	require.ErrorIs(t, b.n.ScanQR(ctx, qr.code, botNumber), ErrUnknownCode, "the code is gone once used")
	require.ErrorIs(t, b.n.Pair(ctx, "s1", botNumber), waqtor.ErrAlreadyPaired)
	require.ErrorIs(t, b.n.Pair(ctx, "nope", botNumber), ErrUnknownSession)

	info, _ = b.n.Session("s1")
	require.Equal(t, botJID, info.JID)
	require.Empty(t, info.QR)
}

func TestPairHelper(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, "")
	require.NoError(t, b.conn.Connect(t.Context()))
	require.NoError(t, b.n.WaitForState(waitCtx(t), "s1", waqtor.StateQR))
	require.NoError(t, b.n.Pair(t.Context(), "s1", botJID))
	require.Equal(t, botJID, b.h.waitStatus(t, waqtor.StateReady).JID)
}

func TestQRTimeout(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.QRInterval = 2 * time.Millisecond
	cfg.QRCodes = 3
	b := setup(t, cfg, "")
	require.NoError(t, b.conn.Connect(t.Context()))
	st := b.h.waitStatus(t, waqtor.StateDisconnected)
	require.Equal(t, "QR code timed out", st.Reason)
	require.ErrorIs(t, st.Err, ErrQRTimeout)

	codes := b.h.qrs()
	require.Len(t, codes, 3)
	require.NotEqual(t, codes[0].code, codes[1].code, "each code is new")
	b.n.mu.Lock()
	require.Empty(t, b.n.timers, "nothing is scheduled: the QR loop stopped")
	require.Empty(t, b.n.qrCodes)
	b.n.mu.Unlock()
	require.ErrorIs(t, b.n.ScanQR(t.Context(), codes[2].code, botNumber), ErrUnknownCode)

	// Connecting again starts a new round.
	require.NoError(t, b.conn.Connect(t.Context()))
	b.h.waitStatusCount(t, waqtor.StateDisconnected, 2)
	require.Len(t, b.h.qrs(), 6)
}

func TestResumeWithJID(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	require.Empty(t, b.h.qrs())
	var states []waqtor.SessionState
	for _, s := range b.h.statuses() {
		states = append(states, s.State)
	}
	require.Equal(t, []waqtor.SessionState{waqtor.StateConnecting, waqtor.StateReady}, states)

	// Connect is idempotent while connected.
	require.NoError(t, b.conn.Connect(t.Context()))
	require.Len(t, b.h.statuses(), 2)

	_, err := b.n.Open(t.Context(), &waqtor.EngineSession{ID: "s2", JID: "123@g.us"}, newRecorder())
	require.Error(t, err, "an account JID must be a phone JID")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	b := setupReady(t, nil)
	ctx := t.Context()
	require.NoError(t, b.conn.Logout(ctx))
	st := b.h.waitStatus(t, waqtor.StateLoggedOut)
	require.Equal(t, "logged out", st.Reason)
	info, _ := b.n.Session("s1")
	require.Empty(t, info.JID)
	require.Empty(t, b.n.Phone(botNumber).devices)

	// The next Connect pairs anew.
	require.NoError(t, b.conn.Connect(ctx))
	b.h.waitQRs(t, 1)
	require.NoError(t, b.conn.Logout(ctx), "logging out an unpaired session only disconnects it")
	require.NoError(t, b.conn.Close(ctx))
	require.ErrorIs(t, b.conn.Logout(ctx), ErrClosed)
}

// TestAutoPairDelay: AutoPairDelay holds the automatic pairing back, so the QR
// code can be shown; a delay longer than the codes last lets them time out.
func TestAutoPairDelay(t *testing.T) {
	t.Parallel()
	t.Run("Waits", func(t *testing.T) {
		t.Parallel()
		cfg := fastConfig()
		cfg.AutoPair = true
		cfg.AutoPairDelay = 50 * time.Millisecond
		b := setup(t, cfg, "")
		require.NoError(t, b.conn.Connect(t.Context()))
		shown := time.Now()
		b.h.waitQRs(t, 1)
		b.h.waitStatus(t, waqtor.StateReady)
		require.GreaterOrEqual(t, time.Since(shown), cfg.AutoPairDelay)
	})
	t.Run("LongerThanTheCodes", func(t *testing.T) {
		t.Parallel()
		cfg := fastConfig()
		cfg.AutoPair = true
		cfg.AutoPairDelay = time.Hour
		cfg.QRCodes = 2
		cfg.QRInterval = 5 * time.Millisecond
		b := setup(t, cfg, "")
		require.NoError(t, b.conn.Connect(t.Context()))
		st := b.h.waitStatus(t, waqtor.StateDisconnected)
		require.ErrorIs(t, st.Err, ErrQRTimeout)
		for _, s := range b.h.statuses() {
			require.NotEqual(t, waqtor.StateReady, s.State, "paired before the delay")
		}
	})
}
