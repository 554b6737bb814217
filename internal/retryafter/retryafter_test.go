package retryafter

import (
	"net/http"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   string
		want time.Duration
		ok   bool
	}{
		"seconds":           {"120", 2 * time.Minute, true},
		"spaces":            {" 7 ", 7 * time.Second, true},
		"zero":              {"0", 0, true},
		"capped":            {"86400", time.Hour, true},
		"huge is capped":    {"99999999999999", time.Hour, true},
		"overflow":          {"99999999999999999999", 0, false},
		"negative":          {"-1", 0, false},
		"empty":             {"", 0, false},
		"words":             {"soon", 0, false},
		"fraction":          {"1.5", 0, false},
		"date":              {now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		"date in the past":  {now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		"date far ahead":    {now.AddDate(5, 0, 0).Format(http.TimeFormat), time.Hour, true},
		"rfc850 date":       {now.Add(time.Minute).Format(time.RFC850), time.Minute, true},
		"date with garbage": {"Wed, 21 Oct 2015 07:28:00 GMT x", 0, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := Parse(tt.in, now, time.Hour)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"120", "0", "-1", "", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", "Sun, 06 Nov 2094 08:49:37 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := Parse(s, now, time.Hour)
		if d < 0 || d > time.Hour {
			t.Fatalf("delay %s for %q outside [0, 1h]", d, s)
		}
		if !ok && d != 0 {
			t.Fatalf("rejected %q with a delay %s", s, d)
		}
	})
}
