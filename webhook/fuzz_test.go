package webhook_test

import (
	"errors"
	"testing"

	"github.com/waqtor/waqtor/webhook"
)

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
