package waqtor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

func sampleEvents() []waqtor.Event {
	meta := func(id string) waqtor.EventMeta {
		return waqtor.EventMeta{ID: id, Seq: 7, Session: "main", Tenant: "acme", Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	}
	msg := waqtor.Message{ID: "3EB0AA", Session: "main", Tenant: "acme", Direction: waqtor.DirectionIn,
		Chat: waqtor.Address{JID: "1@g.us"}, Sender: waqtor.Address{JID: "2@s.whatsapp.net", LID: "3@lid", Phone: "+2"},
		IsGroup: true, Status: waqtor.StatusReceived, Time: time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC),
		Content: &waqtor.Text{Body: "hi", Mentions: []string{"4@s.whatsapp.net"}, Quote: &waqtor.Quote{ID: "Q"}}}
	media := msg
	media.Content = &waqtor.Media{Kind: waqtor.ContentVideo, MIME: "video/mp4", Size: 10, Ref: json.RawMessage(`{"k":1}`)}
	revoked := msg
	counts := waqtor.CampaignCounts{Total: 10, Pending: 2, Sent: 5, Delivered: 4, Read: 3, Failed: 1, Skipped: 2}
	revoked.Revoked, revoked.RevokedAt = true, time.Date(2026, 5, 1, 11, 5, 0, 0, time.UTC)
	return []waqtor.Event{
		&waqtor.SessionQR{EventMeta: meta("e1"), Code: "2@abc", Expires: time.Date(2026, 5, 1, 12, 1, 0, 0, time.UTC)},
		&waqtor.SessionStatus{EventMeta: meta("e2"), State: waqtor.StateBanned, Previous: waqtor.StateReady, Reason: "ban",
			BanExpires: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC), Info: waqtor.ClientInfo{JID: "1@s.whatsapp.net", Phone: "+1"}},
		&waqtor.MessageReceived{EventMeta: meta("e3"), Message: msg},
		&waqtor.MessageSent{EventMeta: meta("e4"), Message: media},
		&waqtor.MessageFailed{EventMeta: meta("e5"), Message: msg, Error: "nope"},
		&waqtor.MessageDelivered{EventMeta: meta("e6"), MessageID: "M", Chat: waqtor.Address{JID: "1@s.whatsapp.net"}},
		&waqtor.MessageRead{EventMeta: meta("e7"), MessageID: "M", Played: true},
		&waqtor.MessageEdited{EventMeta: meta("e11"), EditID: "E", Message: msg, PreviousText: "hello"},
		&waqtor.MessageRevoked{EventMeta: meta("e12"), RevokeID: "R", Message: revoked},
		&waqtor.WebhookEndpointDisabled{EventMeta: meta("e8"), EndpointID: "ep_1", Reason: "gone", URL: "https://example.com/hook"},
		&waqtor.WebhookTest{EventMeta: meta("e9"), EndpointID: "ep_1", Message: "test"},
		&waqtor.PluginStatus{EventMeta: meta("e10"), Plugin: "echo", State: waqtor.PluginRunning, Previous: waqtor.PluginStarting, PID: 42, Restarts: 1},
		&waqtor.CampaignProgress{EventMeta: meta("e13"), CampaignID: "cmp_1", Name: "Eid offers", State: "running",
			Counts: counts, ETA: time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC), Sent: 5, Total: 10, Failed: 1},
		&waqtor.CampaignPaused{EventMeta: meta("e14"), CampaignID: "cmp_1", Counts: counts, Reason: "session_banned",
			Session: "main", ResumeAt: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)},
		&waqtor.CampaignCompleted{EventMeta: meta("e15"), CampaignID: "cmp_1", Counts: counts, Name: "Eid offers"},
		&waqtor.CampaignFailed{EventMeta: meta("e16"), CampaignID: "cmp_1", Counts: counts, Reason: "no sessions"},
		&waqtor.CampaignCancelled{EventMeta: meta("e17"), CampaignID: "cmp_1", Counts: counts, Reason: "typo"},
		&waqtor.ConsentChanged{EventMeta: meta("e18"), Contact: "+201001234567", Scope: waqtor.ConsentMarketing,
			Status: waqtor.ConsentOptedOut, Previous: waqtor.ConsentOptedIn, Source: "keyword", Note: "sent STOP"},
	}
}

func TestEventEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	events := sampleEvents()
	require.Len(t, events, len(waqtor.AllKinds()), "every kind has a sample")
	for _, e := range events {
		t.Run(string(e.Kind()), func(t *testing.T) {
			t.Parallel()
			b, err := waqtor.MarshalEvent(e)
			require.NoError(t, err)
			var env map[string]any
			require.NoError(t, json.Unmarshal(b, &env))
			for _, k := range []string{"id", "type", "session", "timestamp", "data"} {
				require.Contains(t, env, k, "the wire envelope has %q", k)
			}
			back, err := waqtor.UnmarshalEvent(b)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(e, back))
		})
	}
}

func TestMessageWireFormat(t *testing.T) {
	t.Parallel()
	b, err := waqtor.MarshalEvent(sampleEvents()[2])
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"e3","seq":7,"type":"message.received","session":"main","tenant":"acme",
		"timestamp":"2026-05-01T12:00:00Z","data":{"message":{
		"id":"3EB0AA","session":"main","tenant":"acme","direction":"in","from_me":false,"is_group":true,"revoked":false,
		"chat":{"jid":"1@g.us"},"sender":{"jid":"2@s.whatsapp.net","lid":"3@lid","phone":"+2"},
		"status":"received","timestamp":"2026-05-01T11:00:00Z","created_at":"0001-01-01T00:00:00Z",
		"updated_at":"0001-01-01T00:00:00Z",
		"content":{"type":"text","body":"hi","mentions":["4@s.whatsapp.net"],"quote":{"id":"Q"}}}}}`, string(b))
}

func TestContentRoundTrip(t *testing.T) {
	t.Parallel()
	contents := []waqtor.Content{
		&waqtor.Text{Body: "x"},
		&waqtor.Media{Kind: waqtor.ContentDocument, FileName: "a.pdf", MIME: "application/pdf", Caption: "c", Size: 3},
		&waqtor.Media{Kind: waqtor.ContentAudio, Voice: true},
		&waqtor.Location{Latitude: -33.9, Longitude: 18.4, Name: "CPT"},
		&waqtor.Contact{Name: "A", VCard: "BEGIN:VCARD"},
		&waqtor.Poll{Question: "q", Options: []string{"a", "b"}, MaxSelections: 2},
		&waqtor.PollVote{PollID: "P", Selected: []string{"a"}},
		&waqtor.Reaction{TargetID: "T", Emoji: "🔥"},
		&waqtor.Edit{TargetID: "T", Text: "new"},
		&waqtor.Revoke{TargetID: "T"},
	}
	for _, c := range contents {
		b, err := waqtor.MarshalContent(c)
		require.NoError(t, err)
		back, err := waqtor.UnmarshalContent(b)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(c, back), "%s", b)
	}
	for _, bad := range []string{``, `{}`, `{"type":"nope"}`, `{"type":"text","body":5}`, `[]`, `null`} {
		_, err := waqtor.UnmarshalContent([]byte(bad))
		require.ErrorIs(t, err, waqtor.ErrInvalidMessage, bad)
	}
	for _, bad := range []string{``, `{}`, `{"type":"session.qr"}`, `{"type":"x","data":{}}`, `{"type":"message.sent","data":{"message":{"content":{"type":"?"}}}}`} {
		_, err := waqtor.UnmarshalEvent([]byte(bad))
		require.Error(t, err, bad)
	}
}

func FuzzUnmarshalEvent(f *testing.F) {
	for _, e := range sampleEvents() {
		b, _ := waqtor.MarshalEvent(e)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"message.sent","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := waqtor.UnmarshalEvent(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same event.
		again, err := waqtor.MarshalEvent(e)
		require.NoError(t, err)
		e2, err := waqtor.UnmarshalEvent(again)
		require.NoError(t, err)
		require.Equal(t, e.Kind(), e2.Kind())
	})
}

func FuzzUnmarshalContent(f *testing.F) {
	for _, s := range []string{`{"type":"text","body":"x"}`, `{"type":"image","mime":"image/png"}`, `{"type":"poll","question":"q","options":["a"]}`,
		`{"type":"location","latitude":1e400}`, `{"type":"reaction"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := waqtor.UnmarshalContent(b)
		if err != nil {
			require.ErrorIs(t, err, waqtor.ErrInvalidMessage)
			return
		}
		out, err := waqtor.MarshalContent(c)
		require.NoError(t, err)
		back, err := waqtor.UnmarshalContent(out)
		require.NoError(t, err)
		require.Equal(t, c.ContentType(), back.ContentType())
	})
}
