package campaign

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones for RecipientZone on machines without zoneinfo

	"github.com/waqtor/waqtor"
)

// ErrInvalidPacing is wrapped by the [waqtor.FieldError] that
// [Pacing.Validate] returns.
var ErrInvalidPacing = errors.New("campaign: invalid pacing")

// Defaults of Pacing fields. They are deliberately slow: a campaign that
// sends like a person keeps its numbers; one that sends like a machine gets
// them banned.
const (
	// BatchPauseDefault is the rest after every BatchSize sends.
	BatchPauseDefault = Duration(5 * time.Minute)
	// BatchSizeDefault is how many sends make a batch.
	BatchSizeDefault = 50
	// DailyCapDefault is how many messages one sender session sends per
	// calendar day. Numbers younger than a few weeks should send far fewer:
	// set WarmUp for them.
	DailyCapDefault = 200
	// FailureWindowDefault is how many recent sends the failure rate is
	// measured over.
	FailureWindowDefault = 20
	// MaxFailureRateDefault is the failure rate over the last FailureWindow
	// sends above which a campaign pauses itself.
	MaxFailureRateDefault = 0.5
	// MaxIntervalDefault is the longest gap between two sends of a session.
	MaxIntervalDefault = Duration(9 * time.Second)
	// MinIntervalDefault is the shortest gap between two sends of a session.
	MinIntervalDefault = Duration(4 * time.Second)
	// TypingMaxDefault is the longest "typing…" shown before a send.
	TypingMaxDefault = Duration(3 * time.Second)
	// TypingMinDefault is the shortest "typing…" shown before a send.
	TypingMinDefault = Duration(time.Second)
	// WarmUpStartCapDefault is the daily cap on a warming-up sender's first
	// day, when WarmUp.Days is set and WarmUp.StartCap is not.
	WarmUpStartCapDefault = 20
)

// Bounds of Pacing fields that [Pacing.Validate] enforces. Values beyond
// them are mistakes (a cap nobody could reach safely, a "rest" of a week).
const (
	// BatchPauseLimit is the longest BatchPause.
	BatchPauseLimit = Duration(24 * time.Hour)
	// BatchSizeLimit is the largest BatchSize.
	BatchSizeLimit = 10000
	// DailyCapLimit is the largest DailyCap.
	DailyCapLimit = 10000
	// FailureWindowLimit is the largest FailureWindow.
	FailureWindowLimit = 1000
	// MaxIntervalLimit is the longest MaxInterval.
	MaxIntervalLimit = Duration(24 * time.Hour)
	// MinIntervalFloor is the shortest MinInterval of a paced campaign:
	// sending faster than once a second is never safe on a real account.
	MinIntervalFloor = Duration(time.Second)
	// TypingLimit is the longest TypingMax.
	TypingLimit = Duration(time.Minute)
	// WarmUpDaysLimit is the longest warm-up.
	WarmUpDaysLimit = 365
)

// Reasons [Pacing.Next] gives for a wait.
const (
	// WaitBatchPause: the sender rests after a batch.
	WaitBatchPause = "batch_pause"
	// WaitDailyCap: the sender reached its cap for the day and waits for
	// the next midnight in the pacing location.
	WaitDailyCap = "daily_cap"
	// WaitInterval: the gap after the previous send is not over.
	WaitInterval = "interval"
)

// Zones of quiet hours.
const (
	// QuietZoneCampaign reads quiet hours on the campaign's clock.
	QuietZoneCampaign = "campaign"
	// QuietZoneRecipient reads quiet hours on each recipient's clock (see
	// [RecipientZone]).
	QuietZoneRecipient = "recipient"
)

// Pacing is a campaign's sending policy, applied per sender session: the gap
// between sends, the daily cap and its warm-up for young numbers, the rest
// after each batch, quiet hours, the "typing…" shown before each message, and
// when failures pause the campaign. Zero fields take defaults, so the zero
// Pacing (and a nil *Pacing) is the safe default policy.
//
// Its methods are pure functions of their arguments (no clock, no I/O): the
// runner keeps each sender's [SenderState] and asks [Pacing.Next] when it may
// send and [Pacing.Record] what the state is after a send. They are safe for
// concurrent use as long as nobody modifies the Pacing meanwhile.
type Pacing struct {
	// BatchPause is how long a sender rests after every BatchSize sends.
	// Defaults to BatchPauseDefault (5 min).
	BatchPause Duration `json:"batch_pause,omitzero"`
	// BatchSize is how many sends make a batch. A sender that was idle for at
	// least BatchPause (quiet hours, the night after its daily cap, a paused
	// campaign) starts a new batch. Defaults to BatchSizeDefault (50).
	BatchSize int `json:"batch_size,omitzero"`
	// DailyCap is how many messages one sender session sends per calendar day
	// in the pacing location (the campaign's zone); the count resets at
	// local midnight. Defaults to DailyCapDefault (200).
	DailyCap int `json:"daily_cap,omitzero"`
	// FailureWindow is how many of a sender's latest sends the failure rate
	// is measured over (see [FailureWindow]). Defaults to
	// FailureWindowDefault (20).
	FailureWindow int `json:"failure_window,omitzero"`
	// MaxFailureRate is the share of failures among the last FailureWindow
	// sends above which the campaign pauses itself: with the defaults, the
	// 11th failure among 20 sends. 1 never pauses; zero means the default,
	// so to pause at the first failure use a small rate such as 0.01.
	// Defaults to MaxFailureRateDefault (0.5).
	MaxFailureRate float64 `json:"max_failure_rate,omitzero"`
	// MaxInterval is the longest gap after a send: each gap is drawn
	// uniformly from [MinInterval, MaxInterval] so that sends do not tick
	// like a machine. At most MaxIntervalLimit (24 h). Defaults to
	// MaxIntervalDefault (9 s), or to MinInterval when that is longer.
	MaxInterval Duration `json:"max_interval,omitzero"`
	// MinInterval is the shortest gap after a send. At least
	// MinIntervalFloor (1 s) unless Unpaced. Defaults to MinIntervalDefault
	// (4 s), or to MaxInterval when that is shorter.
	MinInterval Duration `json:"min_interval,omitzero"`
	// QuietHours is a time of day when nothing is sent. Defaults to none.
	QuietHours QuietHours `json:"quiet_hours,omitzero"`
	// ResumeAfterBan lets a campaign go on with its other sender sessions
	// when one of them is banned. By default the whole campaign pauses: a
	// ban often means the content or the pace is being flagged, and the
	// other numbers would be next. Defaults to false.
	ResumeAfterBan bool `json:"resume_after_ban,omitzero"`
	// Typing shows "typing…" to the recipient for a moment (see TypingMin
	// and TypingMax) before each message, as a person would. Defaults to
	// false.
	Typing bool `json:"typing,omitzero"`
	// TypingMax is the longest "typing…", at most TypingLimit (1 min).
	// Defaults to TypingMaxDefault (3 s), or to TypingMin when that is
	// longer.
	TypingMax Duration `json:"typing_max,omitzero"`
	// TypingMin is the shortest "typing…". Defaults to TypingMinDefault
	// (1 s), or to TypingMax when that is shorter.
	TypingMin Duration `json:"typing_min,omitzero"`
	// Unpaced turns pacing off: no gaps, no typing, no daily cap or warm-up,
	// no batch pauses and no quiet hours; only the failure rate still pauses
	// the campaign. It is for tests and benchmarks against a sandbox: a real
	// WhatsApp account that sends unpaced will be banned. Defaults to false.
	Unpaced bool `json:"unpaced,omitzero"`
	// WarmUp ramps up the daily cap of young numbers. Defaults to no warm-up.
	WarmUp WarmUp `json:"warm_up,omitzero"`
}

// WarmUp ramps a sender's daily cap up linearly, from StartCap on the first
// day it sends for the campaign to the full DailyCap on day Days (counting
// the first day as day 0):
//
//	cap(day i) = StartCap + (DailyCap-StartCap)·i/Days   for i < Days
//
// With Days 14, StartCap 20 and DailyCap 200 that is 20, 32, 45, … 187, then
// 200 from the 15th day. A linear ramp is gentler than doubling, which would
// reach 200 on the fifth day.
type WarmUp struct {
	// Days is how many days the ramp lasts, at most WarmUpDaysLimit (365).
	// Zero turns warm-up off. Defaults to 0.
	Days int `json:"days,omitzero"`
	// StartCap is the daily cap on the sender's first day, at most DailyCap.
	// Defaults to WarmUpStartCapDefault (20), or DailyCap when that is
	// lower.
	StartCap int `json:"start_cap,omitzero"`
}

// QuietHours is a time of day when nothing is sent, from Start until End on
// a 24-hour clock. It may wrap midnight: "21:00"–"09:00" is quiet from 9 pm
// to 9 am. Both empty means no quiet hours.
type QuietHours struct {
	// End is when sending may resume, "HH:MM".
	End string `json:"end,omitzero"`
	// Start is when quiet hours begin, "HH:MM".
	Start string `json:"start,omitzero"`
	// Zone is whose clock reads the hours: QuietZoneCampaign (the
	// campaign's time zone) or QuietZoneRecipient (each recipient's, see
	// [RecipientZone]). Defaults to QuietZoneCampaign.
	Zone string `json:"zone,omitzero"`
}

// SenderState is the pacing state of one sender session in one campaign. The
// runner persists it (as JSON or as columns) so that a restart keeps the
// daily count, the batch and the next send time. Its zero value is a sender
// that has not sent yet.
type SenderState struct {
	// Day is the calendar day, "2006-01-02" in the pacing location, that
	// SentToday counts.
	Day string `json:"day"`
	// FirstDay is the first calendar day this sender sent for the campaign,
	// "2006-01-02": day 0 of its warm-up.
	FirstDay string `json:"first_day"`
	// InBatch is how many sends the current batch has had.
	InBatch int `json:"in_batch"`
	// NextAt is the earliest start of the next send.
	NextAt time.Time `json:"next_at,omitzero"`
	// SentToday is how many messages the sender sent on Day.
	SentToday int `json:"sent_today"`
}

// WithDefaults returns a copy of p with every unset field set to its
// default. It never modifies p; a nil p gives the default policy.
func (p *Pacing) WithDefaults() *Pacing {
	out := p.eff()
	return &out
}

// eff is WithDefaults without the allocation.
func (p *Pacing) eff() Pacing {
	var out Pacing
	if p != nil {
		out = *p
	}
	out.MinInterval, out.MaxInterval = defaultRange(out.MinInterval, out.MaxInterval, MinIntervalDefault, MaxIntervalDefault)
	out.TypingMin, out.TypingMax = defaultRange(out.TypingMin, out.TypingMax, TypingMinDefault, TypingMaxDefault)
	out.BatchPause = cmp.Or(out.BatchPause, BatchPauseDefault)
	out.BatchSize = cmp.Or(out.BatchSize, BatchSizeDefault)
	out.DailyCap = cmp.Or(out.DailyCap, DailyCapDefault)
	out.FailureWindow = cmp.Or(out.FailureWindow, FailureWindowDefault)
	out.MaxFailureRate = cmp.Or(out.MaxFailureRate, MaxFailureRateDefault)
	out.QuietHours.Zone = cmp.Or(out.QuietHours.Zone, QuietZoneCampaign)
	if out.WarmUp.Days > 0 {
		out.WarmUp.StartCap = cmp.Or(out.WarmUp.StartCap, min(WarmUpStartCapDefault, out.DailyCap))
	}
	return out
}

// defaultRange fills an unset end of a [lo, hi] range so that a range set on
// one side only stays ordered.
func defaultRange(lo, hi, loDefault, hiDefault Duration) (Duration, Duration) {
	switch {
	case lo == 0 && hi == 0:
		return loDefault, hiDefault
	case lo == 0:
		return min(loDefault, hi), hi
	case hi == 0:
		return lo, max(hiDefault, lo)
	}
	return lo, hi
}

// Validate reports the first invalid field of p (after defaults) as a
// *[waqtor.FieldError] wrapping [ErrInvalidPacing], naming the field as
// "pacing.<json name>". It checks that durations and counts are not
// negative and stay within the limits above (Limit and Floor constants),
// that MinInterval ≤ MaxInterval and TypingMin ≤ TypingMax, that StartCap ≤
// DailyCap, that MaxFailureRate is within [0, 1], and that quiet hours are
// two different "HH:MM" times with a known zone.
func (p *Pacing) Validate() error {
	e := p.eff()
	switch {
	case e.BatchPause < 0 || e.BatchPause > BatchPauseLimit:
		return pacingErr("batch_pause", "must be within 0–%s, not %s", BatchPauseLimit, e.BatchPause)
	case e.BatchSize < 1 || e.BatchSize > BatchSizeLimit:
		return pacingErr("batch_size", "must be within 1–%d, not %d", BatchSizeLimit, e.BatchSize)
	case e.DailyCap < 1 || e.DailyCap > DailyCapLimit:
		return pacingErr("daily_cap", "must be within 1–%d, not %d", DailyCapLimit, e.DailyCap)
	case e.FailureWindow < 1 || e.FailureWindow > FailureWindowLimit:
		return pacingErr("failure_window", "must be within 1–%d sends, not %d", FailureWindowLimit, e.FailureWindow)
	case !(e.MaxFailureRate >= 0 && e.MaxFailureRate <= 1):
		return pacingErr("max_failure_rate", "must be within 0–1, not %v", e.MaxFailureRate)
	case e.MaxInterval > MaxIntervalLimit:
		return pacingErr("max_interval", "must be at most %s, not %s", MaxIntervalLimit, e.MaxInterval)
	case e.MinInterval < 0:
		return pacingErr("min_interval", "must not be negative (%s)", e.MinInterval)
	case e.MinInterval < MinIntervalFloor && !e.Unpaced:
		return pacingErr("min_interval", "must be at least %s: sending faster gets accounts banned (set unpaced for tests)", MinIntervalFloor)
	case e.MinInterval > e.MaxInterval:
		return pacingErr("min_interval", "must not exceed pacing.max_interval (%s > %s)", e.MinInterval, e.MaxInterval)
	case e.TypingMax > TypingLimit:
		return pacingErr("typing_max", "must be at most %s, not %s", TypingLimit, e.TypingMax)
	case e.TypingMin < 0:
		return pacingErr("typing_min", "must not be negative (%s)", e.TypingMin)
	case e.TypingMin > e.TypingMax:
		return pacingErr("typing_min", "must not exceed pacing.typing_max (%s > %s)", e.TypingMin, e.TypingMax)
	case e.WarmUp.Days < 0 || e.WarmUp.Days > WarmUpDaysLimit:
		return pacingErr("warm_up.days", "must be within 0–%d, not %d", WarmUpDaysLimit, e.WarmUp.Days)
	case e.WarmUp.StartCap < 0:
		return pacingErr("warm_up.start_cap", "must not be negative (%d)", e.WarmUp.StartCap)
	case e.WarmUp.StartCap > e.DailyCap:
		return pacingErr("warm_up.start_cap", "must not exceed pacing.daily_cap (%d > %d)", e.WarmUp.StartCap, e.DailyCap)
	}
	return e.QuietHours.validate()
}

func (q QuietHours) validate() error {
	if q.Start == "" && q.End == "" {
		if q.Zone != QuietZoneCampaign && q.Zone != QuietZoneRecipient && q.Zone != "" {
			return pacingErr("quiet_hours.zone", "must be %q or %q, not %q", QuietZoneCampaign, QuietZoneRecipient, q.Zone)
		}
		return nil
	}
	start, ok := parseHM(q.Start)
	if !ok {
		return pacingErr("quiet_hours.start", `must be a time "HH:MM" such as "21:00", not %q`, q.Start)
	}
	end, ok := parseHM(q.End)
	if !ok {
		return pacingErr("quiet_hours.end", `must be a time "HH:MM" such as "09:00", not %q`, q.End)
	}
	if start == end {
		return pacingErr("quiet_hours.end", "must differ from pacing.quiet_hours.start (%s)", q.Start)
	}
	if q.Zone != QuietZoneCampaign && q.Zone != QuietZoneRecipient && q.Zone != "" {
		return pacingErr("quiet_hours.zone", "must be %q or %q, not %q", QuietZoneCampaign, QuietZoneRecipient, q.Zone)
	}
	return nil
}

func pacingErr(field, format string, args ...any) error {
	return &waqtor.FieldError{Err: ErrInvalidPacing, Field: "pacing." + field, Reason: fmt.Sprintf(format, args...)}
}

// parseHM reads "HH:MM" (00:00–23:59) as minutes after midnight.
func parseHM(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// Next returns the earliest time at which a sender in state st may start its
// next send, and why it must wait until then: [WaitInterval],
// [WaitBatchPause], or [WaitDailyCap] (then it is the next midnight in loc,
// or later if a pause runs past it); now and "" when it may send now. The
// daily cap is [Pacing.CapOn] the current day in loc. Quiet hours are not
// considered here, since they may depend on the recipient: ask
// [Pacing.Quiet]. A nil loc means UTC. Unpaced, Next always returns now.
func (p *Pacing) Next(st SenderState, now time.Time, loc *time.Location) (time.Time, string) {
	e := p.eff()
	if e.Unpaced {
		return now, ""
	}
	loc = orUTC(loc)
	local := now.In(loc)
	today := dayNumber(local)
	sent := 0
	if d, ok := civilDay(st.Day); ok && d >= today {
		sent = st.SentToday // a Day ahead of today means the clock went back: keep counting
	}
	if sent >= e.capOn(st, today) {
		next := nextMidnight(local, loc)
		if st.NextAt.After(next) {
			next = st.NextAt
		}
		return next, WaitDailyCap
	}
	if st.NextAt.After(now) {
		if st.InBatch == 0 {
			return st.NextAt, WaitBatchPause
		}
		return st.NextAt, WaitInterval
	}
	return now, ""
}

// Record returns the state of a sender after a send that started at at: the
// day's count rolls over at midnight in loc, and NextAt is at plus a gap
// drawn uniformly from [MinInterval, MaxInterval] with rnd, or plus
// BatchPause when the send ends a batch. A sender idle for at least
// BatchPause beyond its NextAt starts a new batch. Failed sends count too:
// WhatsApp saw them. A nil rnd uses the global source of math/rand/v2; a nil
// loc means UTC.
func (p *Pacing) Record(st SenderState, at time.Time, loc *time.Location, rnd *rand.Rand) SenderState {
	e := p.eff()
	loc = orUTC(loc)
	at = at.Round(0) // the state is persisted: keep no monotonic reading
	local := at.In(loc)
	today := dayNumber(local)
	var day string
	if _, ok := civilDay(st.FirstDay); !ok {
		day = local.Format(time.DateOnly)
		st.FirstDay = day
	}
	if d, ok := civilDay(st.Day); !ok || today > d {
		if day == "" {
			day = local.Format(time.DateOnly)
		}
		st.Day, st.SentToday = day, 0
	}
	st.SentToday++
	if e.Unpaced {
		st.InBatch, st.NextAt = 0, at
		return st
	}
	if !st.NextAt.IsZero() && at.Sub(st.NextAt) >= e.BatchPause.Std() {
		st.InBatch = 0 // rested long enough: a new batch
	}
	st.InBatch++
	if st.InBatch >= e.BatchSize {
		st.InBatch = 0
		st.NextAt = at.Add(e.BatchPause.Std())
	} else {
		st.NextAt = at.Add(uniform(rnd, e.MinInterval.Std(), e.MaxInterval.Std()))
	}
	return st
}

// CapOn returns a sender's daily cap on day ("2006-01-02"): DailyCap, or
// less while it warms up (see [WarmUp]). A sender that has not sent yet is on
// its first day. An unreadable day gives the first day's cap, the lowest.
// Unpaced, it is math.MaxInt.
func (p *Pacing) CapOn(st SenderState, day string) int {
	e := p.eff()
	d, ok := civilDay(day)
	if !ok {
		st.FirstDay = ""
	}
	return e.capOn(st, d)
}

// capOn is CapOn on a day number, for a Pacing with defaults.
func (p *Pacing) capOn(st SenderState, day int64) int {
	if p.Unpaced {
		return math.MaxInt
	}
	if p.WarmUp.Days <= 0 {
		return p.DailyCap
	}
	first, ok := civilDay(st.FirstDay)
	if !ok {
		first = day
	}
	i := max(day-first, 0)
	if i >= int64(p.WarmUp.Days) {
		return p.DailyCap
	}
	start := min(p.WarmUp.StartCap, p.DailyCap)
	return start + int(int64(p.DailyCap-start)*i/int64(p.WarmUp.Days))
}

// TypingFor returns how long to show "typing…" before a send: drawn
// uniformly from [TypingMin, TypingMax] with rnd (nil: the global source),
// or 0 when Typing is off or the campaign is Unpaced.
func (p *Pacing) TypingFor(rnd *rand.Rand) time.Duration {
	e := p.eff()
	if !e.Typing || e.Unpaced {
		return 0
	}
	return uniform(rnd, e.TypingMin.Std(), e.TypingMax.Std())
}

// Quiet reports whether t falls in quiet hours on the clock of loc (nil:
// UTC), and if so when they end. Choose loc with [Pacing.QuietLocation].
// Without quiet hours, or Unpaced, it is never quiet.
func (p *Pacing) Quiet(t time.Time, loc *time.Location) (bool, time.Time) {
	e := p.eff()
	if e.Unpaced {
		return false, time.Time{}
	}
	start, ok1 := parseHM(e.QuietHours.Start)
	end, ok2 := parseHM(e.QuietHours.End)
	if !ok1 || !ok2 || start == end {
		return false, time.Time{}
	}
	loc = orUTC(loc)
	local := t.In(loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	var endDay int
	switch {
	case start < end && m >= start && m < end:
		endDay = d
	case start > end && m >= start: // wraps midnight: ends tomorrow
		endDay = d + 1
	case start > end && m < end:
		endDay = d
	default:
		return false, time.Time{}
	}
	until := time.Date(y, mo, endDay, end/60, end%60, 0, 0, loc)
	if !until.After(t) {
		// A daylight-saving change made the wall time ambiguous and
		// time.Date chose the earlier instant: count the wall-clock gap.
		wall := time.Duration((end-m+24*60)%(24*60))*time.Minute - time.Duration(local.Second())*time.Second - time.Duration(local.Nanosecond())
		until = t.Add(wall)
	}
	return true, until
}

// QuietLocation returns the location whose clock [Pacing.Quiet] should read
// for a recipient: campaign (the campaign's zone), or with QuietHours.Zone
// QuietZoneRecipient the recipient's, from [RecipientZone] with campaign as
// the fallback.
func (p *Pacing) QuietLocation(phone string, vars map[string]string, campaign *time.Location) *time.Location {
	if p == nil || p.QuietHours.Zone != QuietZoneRecipient {
		return orUTC(campaign)
	}
	return RecipientZone(phone, vars, campaign)
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// uniform draws a duration uniformly from [lo, hi].
func uniform(rnd *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	n := int64(hi-lo) + 1
	if n <= 0 {
		n = int64(hi - lo)
	}
	if rnd == nil {
		return lo + time.Duration(rand.Int64N(n))
	}
	return lo + time.Duration(rnd.Int64N(n))
}

// nextMidnight returns the start of the day after local's, in loc.
func nextMidnight(local time.Time, loc *time.Location) time.Time {
	y, m, d := local.Date()
	next := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	for !next.After(local) { // only if a daylight-saving change confused time.Date
		d++
		next = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
	return next
}

// dayNumber numbers the calendar day of t in its location (days since
// 1970-01-01), so that days can be compared and subtracted.
func dayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// civilDay reads "2006-01-02" as a day number.
func civilDay(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	num := func(s string) int {
		n := 0
		for i := range len(s) {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	y, m, d := num(s[:4]), num(s[5:7]), num(s[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return 0, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return 0, false // February 30th
	}
	return t.Unix() / 86400, true
}

// RecipientZone returns a recipient's time zone, for quiet hours read on the
// recipient's clock. It takes, in order:
//
//  1. the IANA zone name ("Asia/Riyadh") in the recipient's variable "tz" or
//     "timezone" (any letter case in the key), when it names a known zone;
//  2. the zone of the phone number's country calling code, for countries
//     that have a single time zone (see below);
//  3. fallback (nil: UTC).
//
// The phone may be written as [waqtor.ParsePhone] accepts, or as a user JID.
// Countries spanning several zones (+1 North America, +7 Russia and
// Kazakhstan, +52 Mexico, +55 Brazil, +61 Australia, +62 Indonesia, +34
// Spain with the Canaries, +351 Portugal with the Azores …) fall back.
// The zone data is embedded (time/tzdata), so this works on machines
// without a zoneinfo database. Known codes:
//
//	Middle East: +966 Asia/Riyadh, +971 Asia/Dubai, +965 Asia/Kuwait,
//	  +974 Asia/Qatar, +973 Asia/Bahrain, +968 Asia/Muscat, +962 Asia/Amman,
//	  +961 Asia/Beirut, +963 Asia/Damascus, +964 Asia/Baghdad, +967 Asia/Aden,
//	  +98 Asia/Tehran, +90 Europe/Istanbul
//	Africa: +20 Africa/Cairo, +212 Africa/Casablanca, +213 Africa/Algiers,
//	  +216 Africa/Tunis, +218 Africa/Tripoli, +249 Africa/Khartoum,
//	  +234 Africa/Lagos, +254 Africa/Nairobi, +27 Africa/Johannesburg
//	Europe: +44 Europe/London, +353 Europe/Dublin, +33 Europe/Paris,
//	  +49 Europe/Berlin, +39 Europe/Rome, +31 Europe/Amsterdam,
//	  +32 Europe/Brussels, +41 Europe/Zurich, +43 Europe/Vienna,
//	  +45 Europe/Copenhagen, +46 Europe/Stockholm, +47 Europe/Oslo,
//	  +48 Europe/Warsaw, +30 Europe/Athens
//	Asia: +92 Asia/Karachi, +91 Asia/Kolkata, +880 Asia/Dhaka,
//	  +86 Asia/Shanghai, +81 Asia/Tokyo, +82 Asia/Seoul, +60 Asia/Kuala_Lumpur,
//	  +63 Asia/Manila, +65 Asia/Singapore, +66 Asia/Bangkok
func RecipientZone(phone string, vars map[string]string, fallback *time.Location) *time.Location {
	if name := zoneVar(vars); name != "" {
		if loc, ok := loadZone(name); ok {
			return loc
		}
	}
	if name := phoneZone(phone); name != "" {
		if loc, ok := loadZone(name); ok {
			return loc
		}
	}
	return orUTC(fallback)
}

// countryZones maps the calling codes of single-zone countries to their zone.
// Calling codes are prefix-free, so at most one matches a number.
var countryZones = map[string]string{
	"20": "Africa/Cairo", "212": "Africa/Casablanca", "213": "Africa/Algiers",
	"216": "Africa/Tunis", "218": "Africa/Tripoli", "234": "Africa/Lagos",
	"249": "Africa/Khartoum", "254": "Africa/Nairobi", "27": "Africa/Johannesburg",
	"30": "Europe/Athens", "31": "Europe/Amsterdam", "32": "Europe/Brussels",
	"33": "Europe/Paris", "353": "Europe/Dublin", "39": "Europe/Rome",
	"41": "Europe/Zurich", "43": "Europe/Vienna", "44": "Europe/London",
	"45": "Europe/Copenhagen", "46": "Europe/Stockholm", "47": "Europe/Oslo",
	"48": "Europe/Warsaw", "49": "Europe/Berlin",
	"60": "Asia/Kuala_Lumpur", "63": "Asia/Manila", "65": "Asia/Singapore",
	"66": "Asia/Bangkok", "81": "Asia/Tokyo", "82": "Asia/Seoul",
	"86": "Asia/Shanghai", "880": "Asia/Dhaka", "90": "Europe/Istanbul",
	"91": "Asia/Kolkata", "92": "Asia/Karachi", "961": "Asia/Beirut",
	"962": "Asia/Amman", "963": "Asia/Damascus", "964": "Asia/Baghdad",
	"965": "Asia/Kuwait", "966": "Asia/Riyadh", "967": "Asia/Aden",
	"968": "Asia/Muscat", "971": "Asia/Dubai", "973": "Asia/Bahrain",
	"974": "Asia/Qatar", "98": "Asia/Tehran",
}

// zoneVar returns the "tz" or else "timezone" variable, matching keys in any
// letter case (the lowest such key when several differ only in case).
func zoneVar(vars map[string]string) string {
	for _, key := range []string{"tz", "timezone"} {
		if v, ok := vars[key]; ok {
			return strings.TrimSpace(v)
		}
		found := ""
		var value string
		for k, v := range vars {
			if strings.EqualFold(k, key) && (found == "" || k < found) {
				found, value = k, v
			}
		}
		if found != "" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// phoneZone returns the zone name of a phone number's calling code, or "".
func phoneZone(phone string) string {
	e164, err := waqtor.ParsePhone(phone)
	if err != nil {
		if e164 = waqtor.JIDPhone(phone); e164 == "" {
			return ""
		}
	}
	digits := strings.TrimPrefix(e164, "+")
	for n := 1; n <= 3 && n < len(digits); n++ {
		if name, ok := countryZones[digits[:n]]; ok {
			return name
		}
	}
	return ""
}

// zones caches loaded locations by name. Only valid names are cached, so it
// holds at most the few hundred zones that exist.
var zones sync.Map // string → *time.Location

// loadZone loads an IANA zone. "" and "Local" are refused: the machine's
// zone says nothing about a recipient.
func loadZone(name string) (*time.Location, bool) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, false
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), true
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	zones.Store(name, loc)
	return loc, true
}

// FailureWindow remembers whether each of a sender's latest sends failed, in
// a ring of Size outcomes, so that the runner can pause a campaign whose
// sends start failing ([FailureWindow.Exceeded]). It marshals to JSON so that
// the runner can persist it:
//
//	{"size":20,"recent":"sssfs"}
//
// with the outcomes oldest first, "s" for a success and "f" for a failure.
// Its zero value holds FailureWindowDefault outcomes. It is not safe for
// concurrent use.
type FailureWindow struct {
	buf      []bool // ring of outcomes, true = failed; len ≤ size
	failures int
	next     int // where the next outcome goes once buf is full
	size     int
}

// NewFailureWindow returns an empty window of the last size sends (the
// Pacing's FailureWindow); size 0 or less means FailureWindowDefault.
func NewFailureWindow(size int) *FailureWindow {
	if size <= 0 {
		size = FailureWindowDefault
	}
	return &FailureWindow{size: size}
}

// Add records the outcome of a send, forgetting the oldest once the window
// is full.
func (w *FailureWindow) Add(failed bool) {
	if w.size <= 0 {
		w.size = FailureWindowDefault
	}
	if len(w.buf) < w.size {
		w.buf = append(w.buf, failed)
	} else {
		if w.buf[w.next] {
			w.failures--
		}
		w.buf[w.next] = failed
		w.next = (w.next + 1) % w.size
	}
	if failed {
		w.failures++
	}
}

// Exceeded reports whether the failures in the window exceed p's
// MaxFailureRate of the window's whole size: with a window of 20 and the
// rate 0.5, at the 11th failure. Measuring against the whole size, not the
// sends seen so far, keeps one early failure from pausing a campaign.
func (w *FailureWindow) Exceeded(p *Pacing) bool {
	e := p.eff()
	return float64(w.failures) > e.MaxFailureRate*float64(w.Size())
}

// Failures returns how many sends in the window failed.
func (w *FailureWindow) Failures() int { return w.failures }

// Len returns how many sends the window holds (at most Size).
func (w *FailureWindow) Len() int { return len(w.buf) }

// Rate returns the share of failed sends among those in the window, 0 when
// it is empty.
func (w *FailureWindow) Rate() float64 {
	if len(w.buf) == 0 {
		return 0
	}
	return float64(w.failures) / float64(len(w.buf))
}

// Reset forgets every outcome, as when a paused campaign is resumed.
func (w *FailureWindow) Reset() {
	w.buf, w.failures, w.next = w.buf[:0], 0, 0
}

// Size returns how many sends the window holds when full.
func (w *FailureWindow) Size() int {
	if w.size <= 0 {
		return FailureWindowDefault
	}
	return w.size
}

// failureWindowJSON is the JSON form of a FailureWindow.
type failureWindowJSON struct {
	Recent string `json:"recent"`
	Size   int    `json:"size"`
}

// MarshalJSON writes the window as {"size":20,"recent":"ssf"}, oldest
// outcome first.
func (w FailureWindow) MarshalJSON() ([]byte, error) {
	recent := make([]byte, 0, len(w.buf))
	for i := range len(w.buf) {
		outcome := byte('s')
		if w.buf[(w.next+i)%len(w.buf)] {
			outcome = 'f'
		}
		recent = append(recent, outcome)
	}
	return json.Marshal(failureWindowJSON{Recent: string(recent), Size: w.Size()})
}

// UnmarshalJSON reads what MarshalJSON wrote. The size must be within
// 1–FailureWindowLimit, and recent at most size outcomes of "s" or "f"; on
// error w is unchanged. JSON null leaves w unchanged too.
func (w *FailureWindow) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var in failureWindowJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("campaign: failure window: %w", err)
	}
	if in.Size < 1 || in.Size > FailureWindowLimit {
		return fmt.Errorf("campaign: failure window: size must be within 1–%d, not %d", FailureWindowLimit, in.Size)
	}
	if len(in.Recent) > in.Size {
		return fmt.Errorf("campaign: failure window: %d outcomes exceed its size %d", len(in.Recent), in.Size)
	}
	out := FailureWindow{buf: make([]bool, 0, in.Size), size: in.Size}
	for i := range len(in.Recent) {
		switch in.Recent[i] {
		case 's':
			out.Add(false)
		case 'f':
			out.Add(true)
		default:
			return fmt.Errorf("campaign: failure window: outcome %q is neither \"s\" nor \"f\"", in.Recent[i])
		}
	}
	*w = out
	return nil
}
