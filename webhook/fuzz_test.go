package webhook_test

import (
	"errors"
	"testing"
	"time"

	"github.com/waqtor/waqtor/webhook"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "-1", "", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := webhook.ParseRetryAfter(s, now)
		if ok && d < 0 {
			t.Fatalf("negative delay %s for %q", d, s)
		}
	})
}

func FuzzEventFilter(f *testing.F) {
	for _, s := range []string{"message.*", "*", "message_received", "client_connected", "webhook.test", "foo.*", "", "message.received"} {
		f.Add(s, "session.status")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		out, err := webhook.NormalizeEvents([]string{a, b})
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidEndpoint) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(out) == 0 {
			t.Fatal("an accepted filter is never empty")
		}
	})
}
