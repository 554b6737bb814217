package webhook_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/webhook"
)

func ptr[T any](v T) *T { return &v }

func TestNextDelay(t *testing.T) {
	t.Parallel()
	p := &webhook.RetryPolicy{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute, 2 * time.Hour}}
	mid := func() float64 { return 0.5 } // no jitter
	tests := map[string]struct {
		tries int
		o     webhook.Outcome
		want  time.Duration
		done  bool
	}{
		"500 first":                     {tries: 1, o: webhook.NewOutcome(500, false, nil), want: 5 * time.Second},
		"502 second":                    {tries: 2, o: webhook.NewOutcome(502, false, nil), want: 5 * time.Minute},
		"504 third":                     {tries: 3, o: webhook.NewOutcome(504, false, nil), want: 2 * time.Hour},
		"exhausted":                     {tries: 4, o: webhook.NewOutcome(500, false, nil), done: true},
		"429 with Retry-After 120":      {tries: 1, o: webhook.NewOutcome(429, false, ptr(120)), want: 120 * time.Second},
		"Retry-After below schedule":    {tries: 2, o: webhook.NewOutcome(503, false, ptr(1)), want: 5 * time.Minute},
		"Retry-After capped at 1h":      {tries: 1, o: webhook.NewOutcome(503, false, ptr(86400)), want: time.Hour},
		"schedule above 1h wins":        {tries: 3, o: webhook.NewOutcome(503, false, ptr(86400)), want: 2 * time.Hour},
		"429 without Retry-After":       {tries: 1, o: webhook.NewOutcome(429, false, nil), want: time.Minute},
		"timeout without Retry-After":   {tries: 1, o: webhook.NewOutcome(0, true, nil), want: time.Minute},
		"timeout later in the schedule": {tries: 2, o: webhook.NewOutcome(0, true, nil), want: 5 * time.Minute},
		"redirect is ordinary":          {tries: 1, o: webhook.NewOutcome(302, false, nil), want: 5 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, ok := webhook.NextDelay(p, tc.tries, tc.o, mid)
			require.Equal(t, !tc.done, ok)
			require.Equal(t, tc.want, d)
		})
	}
	t.Run("jitter bounds", func(t *testing.T) {
		t.Parallel()
		p := webhook.StandardRetry()
		for _, r := range []float64{0, 0.25, 0.999} {
			d, ok := webhook.NextDelay(p, 2, webhook.NewOutcome(500, false, nil), func() float64 { return r })
			require.True(t, ok)
			require.GreaterOrEqual(t, d, 4*time.Minute)
			require.LessOrEqual(t, d, 6*time.Minute)
		}
	})
}

func TestRetryPolicies(t *testing.T) {
	t.Parallel()
	std := webhook.StandardRetry()
	require.Equal(t, 8, std.Attempts())
	var total time.Duration
	for _, d := range std.Schedule {
		total += d
	}
	require.Greater(t, total, 24*time.Hour, "the default spans at least a day")

	seed := webhook.ExponentialRetry(3, time.Second, 2, 0)
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second}, seed.Schedule, "the plan's 3 attempts from 1 s")
	require.Equal(t, 3, seed.Attempts())
	capped := webhook.ExponentialRetry(6, time.Second, 10, time.Minute)
	require.Equal(t, []time.Duration{time.Second, 10 * time.Second, time.Minute, time.Minute, time.Minute}, capped.Schedule)

	b, err := json.Marshal(seed)
	require.NoError(t, err)
	require.JSONEq(t, `{"schedule":["1s","2s"],"jitter":0.2}`, string(b))
	var back webhook.RetryPolicy
	require.NoError(t, json.Unmarshal([]byte(`{"schedule":["1.5s","2h"]}`), &back))
	require.Equal(t, webhook.RetryPolicy{Jitter: webhook.JitterDefault, Schedule: []time.Duration{1500 * time.Millisecond, 2 * time.Hour}}, back)
	require.Error(t, json.Unmarshal([]byte(`{"schedule":["soon"]}`), &back))
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, ok := webhook.ParseRetryAfter("120", now)
	require.True(t, ok)
	require.Equal(t, 120*time.Second, d)
	d, ok = webhook.ParseRetryAfter(now.Add(90*time.Second).Format(http1123), now)
	require.True(t, ok)
	require.Equal(t, 90*time.Second, d)
	for _, bad := range []string{"", "-1", "soon"} {
		_, ok := webhook.ParseRetryAfter(bad, now)
		require.False(t, ok, bad)
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestExponentialRetryDoesNotOverflow(t *testing.T) {
	t.Parallel()
	p := webhook.ExponentialRetry(webhook.MaxRetries+1, time.Hour, 10, 0)
	require.Len(t, p.Schedule, webhook.MaxRetries)
	for _, d := range p.Schedule {
		require.Positive(t, d)
		require.LessOrEqual(t, d, webhook.MaxRetryDelay)
	}
}
