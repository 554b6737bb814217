package webhook_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/transport/ws"
	"github.com/waqtor/waqtor/webhook"
)

// TestKnownKindsShared is B14: webhook filters and WebSocket topics accept
// the same kinds, the ones waqtor.AllKinds lists (webhook.test aside, which
// only the test API sends), and refuse the same kinds nothing emits yet,
// with a 422-able field error naming "events" and listing the known kinds.
func TestKnownKindsShared(t *testing.T) {
	t.Parallel()
	want := slices.DeleteFunc(waqtor.AllKinds(), func(k waqtor.EventKind) bool { return k == waqtor.KindWebhookTest })
	require.ElementsMatch(t, want, webhook.KnownKinds())
	for _, k := range waqtor.AllKinds() {
		require.True(t, ws.ValidTopic(string(k)), "ws refuses %s", k)
		if k == waqtor.KindWebhookTest {
			continue
		}
		_, err := webhook.NormalizeEvents([]string{string(k)})
		require.NoError(t, err, "webhook refuses %s", k)
	}
	for alias, target := range webhook.Aliases {
		_, err := webhook.NormalizeEvents([]string{alias})
		kind := waqtor.EventKind(target)
		if i := len("session.status"); len(target) > i && target[:i] == "session.status" {
			kind = waqtor.KindSessionStatus
		}
		require.Equal(t, slices.Contains(want, kind), err == nil, "alias %s (%s): %v", alias, target, err)
	}

	// Kinds of the design contract that nothing emits yet, their areas and
	// the plan's names for them: refused on both sides.
	for _, k := range []string{"smartbot.reply", "notification.created", "smartbot.*", "message.nope"} {
		require.False(t, ws.ValidTopic(k), "ws accepts %s", k)
		_, err := webhook.NormalizeEvents([]string{k})
		requireEventsError(t, err, k)
	}
	for _, alias := range []string{"smartbot_reply"} {
		_, err := webhook.NormalizeEvents([]string{alias})
		requireEventsError(t, err, alias)
		require.Contains(t, err.Error(), "nothing emits yet")
	}
}

func requireEventsError(t *testing.T, err error, input string) {
	t.Helper()
	require.ErrorIs(t, err, webhook.ErrInvalidEndpoint, input)
	var fe *webhook.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "events", fe.Field)
	require.Contains(t, fe.Reason, input)
	for _, k := range webhook.KnownKinds() {
		require.Contains(t, fe.Reason, string(k), "the reason lists the known kinds")
	}
}
