package rest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/transport/rest/api"
)

// TestWireLimits: package api checks the same limits as the Core and the key
// store, which it cannot import.
func TestWireLimits(t *testing.T) {
	t.Parallel()
	require.Equal(t, waqtor.MaxButtons, api.MaxButtons)
	require.Equal(t, waqtor.MaxButtonText, api.MaxButtonText)
	require.Equal(t, waqtor.MaxCheckNumbers, api.MaxCheckNumbers)
	require.Equal(t, auth.MaxKeyNameLength, api.MaxKeyNameLength)
	require.Equal(t, waqtor.MaxListRows, api.MaxListRows)
	require.Equal(t, waqtor.MaxListRowTitle, api.MaxListRowTitle)
	require.Equal(t, waqtor.MaxPollOptions, api.MaxPollOptions)
	require.Equal(t, waqtor.MaxTextLength, api.MaxTextLength)
	require.Equal(t, auth.HeaderAPIKey, api.HeaderAPIKey)
	require.Equal(t, waqtor.MaxConsentNoteLength, api.MaxConsentNoteLength)
	require.Equal(t, []string{string(waqtor.ConsentAll), string(waqtor.ConsentMarketing), string(waqtor.ConsentOptedIn), string(waqtor.ConsentOptedOut)},
		[]string{api.ConsentAll, api.ConsentMarketing, api.ConsentOptedIn, api.ConsentOptedOut})
	for _, m := range []waqtor.InteractiveMode{waqtor.InteractiveDefault, waqtor.InteractiveNative, waqtor.InteractivePoll, waqtor.InteractiveText} {
		require.NoError(t, (&api.SendButtonsRequest{Chat: "x", Body: "b", Buttons: []api.Button{{ID: "a", Text: "A"}}, Mode: string(m)}).Validate())
	}
	for _, st := range []waqtor.SessionState{waqtor.StateAuthFailure, waqtor.StateBanned, waqtor.StateConnecting, waqtor.StateDisconnected,
		waqtor.StateLoggedOut, waqtor.StateQR, waqtor.StateReady} {
		require.Contains(t, []string{api.StateAuthFailure, api.StateBanned, api.StateConnecting, api.StateDisconnected,
			api.StateLoggedOut, api.StateQR, api.StateReady}, string(st))
	}
	for _, id := range []string{"", "a", "default", "A", "-x", "a_b-c", "a b", "é", string(make([]byte, 65)), "0123456789012345678901234567890123456789012345678901234567890123"} {
		require.Equal(t, waqtor.ValidateSessionID(id) == nil, api.ValidSessionID(id), "%q", id)
	}
}

// TestWireTypesCoverCore: every field the Core's types put on the wire
// survives a trip through the api mirror, so the client sees all of them.
func TestWireTypesCoverCore(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	info := waqtor.ClientInfo{JID: "1@s.whatsapp.net", LID: "2@lid", Name: "n", Phone: "+1", Platform: "android"}
	cases := map[string]struct{ in, mirror any }{
		"Session": {&waqtor.Session{BanExpires: now, CreatedAt: now, ID: "s", Info: info, QR: &waqtor.QRCode{Code: "c", Expires: now},
			Reason: "r", State: waqtor.StateReady, Tenant: "t", UpdatedAt: now}, &api.Session{}},
		"Message": {&waqtor.Message{Chat: waqtor.Address{JID: "j", LID: "l", Phone: "+1"}, Content: &waqtor.Buttons{Body: "b",
			Buttons: []waqtor.Button{{ID: "i", Text: "t"}}}, CreatedAt: now, Direction: waqtor.DirectionOut, Error: "e", FromMe: true,
			ID: "m", IsGroup: true, PushName: "p", Sender: waqtor.Address{JID: "j"}, Session: "s", Status: waqtor.StatusSent,
			Tenant: "t", Time: now, UpdatedAt: now}, &api.Message{}},
		"Key": {&auth.Key{CreatedAt: now, ExpiresAt: now, ID: "k", Name: "n", Prefix: "wqt_k", RevokedAt: now,
			Scopes: []auth.Scope{auth.ScopeRead}, Sessions: []string{"s"}, Tenant: "t"}, &api.Key{}},
		"NumberCheck": {&waqtor.NumberCheck{JID: "j", LID: "l", OnWhatsApp: true, Phone: "+1"}, &api.NumberCheck{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(c.in)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(want, c.mirror))
			got, err := json.Marshal(c.mirror)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(got))
		})
	}
}
