package campaign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Duration is a time.Duration that reads and writes JSON the way people write
// it in configuration. It marshals as a Go duration string ("4s", "5m0s") and
// unmarshals from a duration string ("4s", "1h30m", "250ms") or from a JSON
// number of milliseconds (4000, 2.5). Negative durations are refused. JSON
// null leaves the value unchanged.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string, such as "4s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, time.Duration(d).String()), nil
}

// maxMillis is the largest number of milliseconds a Duration holds.
const maxMillis = float64(math.MaxInt64 / int64(time.Millisecond))

// UnmarshalJSON reads a duration string ("1h30m") or a number of
// milliseconds. On error d is unchanged.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	var v time.Duration
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("campaign: duration: %w", err)
		}
		var err error
		if v, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("campaign: duration %q: want a duration such as \"4s\" or \"1h30m\", or milliseconds: %w", s, err)
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("campaign: duration %s: want a duration such as \"4s\" or \"1h30m\", or milliseconds", b)
		}
		if ms, err := n.Int64(); err == nil {
			if ms > int64(maxMillis) || ms < -int64(maxMillis) {
				return fmt.Errorf("campaign: duration %s ms is out of range", n)
			}
			v = time.Duration(ms) * time.Millisecond
		} else {
			ms, err := n.Float64()
			if err != nil || math.Abs(ms) > maxMillis {
				return fmt.Errorf("campaign: duration %s ms is out of range", n)
			}
			v = time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v < 0 {
		return fmt.Errorf("campaign: duration %s is negative", v)
	}
	*d = Duration(v)
	return nil
}
