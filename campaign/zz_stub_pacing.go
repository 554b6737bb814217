package campaign

// TEMPORARY: replaced by pacing.go when it lands.

import (
	"encoding/json"
	"math/rand/v2"
	"time"
)

type Duration time.Duration

func (d Duration) Std() time.Duration { return time.Duration(d) }

type Pacing struct {
	MinInterval    Duration   `json:"min_interval"`
	MaxInterval    Duration   `json:"max_interval"`
	DailyCap       int        `json:"daily_cap"`
	Typing         bool       `json:"typing"`
	BatchSize      int        `json:"batch_size"`
	BatchPause     Duration   `json:"batch_pause"`
	FailureWindow  int        `json:"failure_window"`
	MaxFailureRate float64    `json:"max_failure_rate"`
	ResumeAfterBan bool       `json:"resume_after_ban"`
	Unpaced        bool       `json:"unpaced"`
	QuietHours     QuietHours `json:"quiet_hours"`
}

type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
	Zone  string `json:"zone"`
}

type SenderState struct {
	FirstDay  string    `json:"first_day"`
	Day       string    `json:"day"`
	SentToday int       `json:"sent_today"`
	InBatch   int       `json:"in_batch"`
	NextAt    time.Time `json:"next_at"`
}

func (p *Pacing) WithDefaults() *Pacing {
	o := *p
	if o.MinInterval == 0 {
		o.MinInterval = Duration(4 * time.Second)
	}
	if o.MaxInterval == 0 {
		o.MaxInterval = Duration(9 * time.Second)
	}
	if o.DailyCap == 0 {
		o.DailyCap = 200
	}
	if o.BatchSize == 0 {
		o.BatchSize = 50
	}
	if o.BatchPause == 0 {
		o.BatchPause = Duration(5 * time.Minute)
	}
	if o.FailureWindow == 0 {
		o.FailureWindow = 20
	}
	if o.MaxFailureRate == 0 {
		o.MaxFailureRate = 0.5
	}
	return &o
}
func (p *Pacing) Validate() error { return nil }
func (p *Pacing) Next(st SenderState, now time.Time, loc *time.Location) (time.Time, string) {
	if p.Unpaced || !st.NextAt.After(now) {
		return now, ""
	}
	return st.NextAt, "interval"
}
func (p *Pacing) Quiet(t time.Time, loc *time.Location) (bool, time.Time) { return false, time.Time{} }
func (p *Pacing) Record(st SenderState, at time.Time, loc *time.Location, rnd *rand.Rand) SenderState {
	if p.Unpaced {
		return st
	}
	st.SentToday++
	st.NextAt = at.Add(p.MinInterval.Std() + time.Duration(rnd.Int64N(int64(p.MaxInterval-p.MinInterval)+1)))
	return st
}
func (p *Pacing) TypingFor(rnd *rand.Rand) time.Duration { return 0 }
func RecipientZone(phone string, vars map[string]string, fallback *time.Location) *time.Location {
	return fallback
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms int64
		if err := json.Unmarshal(b, &ms); err != nil {
			return err
		}
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
