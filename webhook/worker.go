package webhook

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/waqtor/waqtor/internal/netguard"
	"github.com/waqtor/waqtor/internal/store"
)

// endpointConf is what a worker needs to deliver to one endpoint.
type endpointConf struct {
	ep       *Endpoint
	signer   *signer // current secret only
	both     *signer // current and previous secret, until oldUntil
	oldUntil time.Time
	signErr  error
	fromSeq  int64
	rawKey   string // identifies the stored secrets, to notice rotations
}

func (c *endpointConf) fifo() bool { return c.ep.FIFO }

func (c *endpointConf) sameAs(o *endpointConf) bool {
	return c.ep.UpdatedAt.Equal(o.ep.UpdatedAt) && c.rawKey == o.rawKey && c.oldUntil.Equal(o.oldUntil) &&
		(c.both == nil) == (o.both == nil)
}

// current reports whether c was built from r as it stands at now, so that
// newConf would build the same.
func (c *endpointConf) current(r *endpointRow, now time.Time) bool {
	wantBoth := r.oldSecret != "" && now.Before(r.oldSecretUntil)
	return c.ep.UpdatedAt.Equal(r.ep.UpdatedAt) && c.rawKey == r.secret+"|"+r.oldSecret &&
		c.oldUntil.Equal(r.oldSecretUntil) && c.fromSeq == r.fromSeq && (c.both != nil) == wantBoth
}

func (c *endpointConf) signerAt(t time.Time) (*signer, error) {
	if c.signErr != nil {
		return nil, c.signErr
	}
	if c.both != nil && t.Before(c.oldUntil) {
		return c.both, nil
	}
	return c.signer, nil
}

func (s *Service) newConf(ctx context.Context, r *endpointRow, now time.Time) *endpointConf {
	c := &endpointConf{ep: r.ep, fromSeq: r.fromSeq, rawKey: r.secret + "|" + r.oldSecret, oldUntil: r.oldSecretUntil}
	cur, err := s.sealer.open(r.secret)
	if err == nil && r.headersErr != nil {
		err = r.headersErr // never deliver without the receiver's credentials
	}
	if err == nil {
		c.signer, err = newSigner(cur)
	}
	if err != nil {
		c.signErr = err
		s.logger.ErrorContext(ctx, "Webhook endpoint secret unusable", slog.String("endpoint_id", r.ep.ID), slog.Any("error", err))
		return c
	}
	if r.oldSecret != "" && now.Before(r.oldSecretUntil) {
		if old, err := s.sealer.open(r.oldSecret); err == nil {
			if both, err := newSigner(cur, old); err == nil {
				c.both = both
			}
		}
	}
	return c
}

// endpointWorker claims and delivers the due deliveries of one endpoint, with
// at most Concurrency requests in flight (one for FIFO endpoints), so that a
// slow or failing endpoint only ever holds up itself.
type endpointWorker struct {
	s      *Service
	id     string
	conf   atomic.Pointer[endpointConf]
	wakeCh chan struct{}
	sem    chan struct{}
	freed  chan struct{}
	cancel context.CancelFunc
	br     *breaker // nil when breakers are off

	// busy holds the deliveries this worker claimed whose outcome is not
	// recorded yet. They are never claimed again meanwhile, even if their
	// lease runs out (a slow database), so one process never sends a
	// delivery twice at once.
	busyMu sync.Mutex
	busy   map[string]struct{}

	// q holds claimed deliveries waiting for a request slot: up to qcap,
	// including reserved places for claims in progress.
	qmu      sync.Mutex
	q        []*job
	qcap     int
	reserved int

	// backlog is set while due deliveries of the endpoint wait unclaimed in
	// the database (the queue was full). The dispatcher then leaves new ones
	// to the worker too, so that they are sent after the older ones, and the
	// worker claims in large batches (when half its queue is free) rather than
	// a transaction per freed place.
	backlog atomic.Bool
}

// queueFactor sizes an endpoint's queue of claimed deliveries: this many
// times its concurrency. A queued delivery's lease covers the wait.
const queueFactor = 4

// lease returns the lease of a delivery claimed now for this endpoint: long
// enough to wait in the queue and make its attempt.
func (s *Service) lease(now time.Time, conf *endpointConf) int64 {
	return micros(now.Add((1+queueFactor)*conf.ep.Timeout + s.cfg.LeaseMargin))
}

// reserve reserves up to n places in the queue and returns how many it got.
func (w *endpointWorker) reserve(n int) int { return w.reserveMin(1, n) }

// reserveMin reserves up to n places in the queue if at least least are free,
// and returns how many it got.
func (w *endpointWorker) reserveMin(least, n int) int {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	k := max(min(n, w.qcap-len(w.q)-w.reserved), 0)
	if k < least {
		return 0
	}
	w.reserved += k
	return k
}

func (w *endpointWorker) unreserve(n int) {
	w.qmu.Lock()
	w.reserved -= n
	w.qmu.Unlock()
}

// enqueue turns n reserved places into the claimed jobs and starts as many
// as there are free slots.
func (w *endpointWorker) enqueue(n int, jobs []*job) {
	w.setBusy(jobs)
	w.qmu.Lock()
	w.reserved -= n
	w.q = append(w.q, jobs...)
	w.qmu.Unlock()
	w.pump()
}

// pop takes the next queued job, or nil.
func (w *endpointWorker) pop() *job {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	if len(w.q) == 0 {
		return nil
	}
	j := w.q[0]
	w.q[0] = nil
	w.q = w.q[1:]
	select {
	case w.freed <- struct{}{}: // room in the queue
	default:
	}
	return j
}

// pump starts queued jobs while request slots are free.
func (w *endpointWorker) pump() {
	for w.tryAcquire() {
		j := w.pop()
		if j == nil {
			w.release()
			return
		}
		w.s.inflight.Add(1)
		go w.attempt(j)
	}
}

func (w *endpointWorker) busyIDs() []any {
	w.busyMu.Lock()
	defer w.busyMu.Unlock()
	out := make([]any, 0, len(w.busy))
	for id := range w.busy {
		out = append(out, id)
	}
	return out
}

func (w *endpointWorker) busyLen() int {
	w.busyMu.Lock()
	defer w.busyMu.Unlock()
	return len(w.busy)
}

func (w *endpointWorker) isBusy(id string) bool {
	w.busyMu.Lock()
	defer w.busyMu.Unlock()
	_, ok := w.busy[id]
	return ok
}

func (w *endpointWorker) setBusy(jobs []*job) {
	w.busyMu.Lock()
	defer w.busyMu.Unlock()
	for _, j := range jobs {
		w.busy[j.id] = struct{}{}
	}
}

// done forgets a delivery once its outcome is recorded.
func (w *endpointWorker) done(id string) {
	w.busyMu.Lock()
	delete(w.busy, id)
	w.busyMu.Unlock()
}

func (s *Service) newWorker(conf *endpointConf) *endpointWorker {
	n := s.cfg.Concurrency
	if conf.fifo() {
		n = 1
	}
	w := &endpointWorker{s: s, id: conf.ep.ID, wakeCh: make(chan struct{}, 1), sem: make(chan struct{}, n),
		freed: make(chan struct{}, 1), busy: map[string]struct{}{}, qcap: queueFactor * n, br: s.breakers.get(conf.ep.ID)}
	w.conf.Store(conf)
	ctx, cancel := context.WithCancel(s.lifeCtx)
	w.cancel = cancel
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		w.run(ctx)
	}()
	return w
}

func (w *endpointWorker) stop() { w.cancel() }

// tryAcquire takes a request slot if one is free.
func (w *endpointWorker) tryAcquire() bool {
	select {
	case w.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// release gives back a slot taken by tryAcquire and not used.
func (w *endpointWorker) release() {
	<-w.sem
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

func (w *endpointWorker) wake() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// job is a claimed delivery.
type job struct {
	attempts  int
	dueAt     time.Time
	eventID   string
	id        string
	kind      string
	lease     int64 // lease_until as claimed: the claim's token
	payload   []byte
	tries     int
	endpoint  string
	tenant    string
	eventSeq  int64
	sessionID string
}

func (w *endpointWorker) run(ctx context.Context) {
	s := w.s
	defer w.abortQueued()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		conf := w.conf.Load()
		var next time.Time
		waitFreed := false
		limit, until := w.br.admit(s.now, w.busyLen)
		if limit == 0 {
			next = until // the breaker holds deliveries back until then, or until a probe's outcome
		} else if conf.fifo() {
			if cap(w.sem) == len(w.sem) {
				waitFreed = true
			} else {
				jobs, nextDue, err := w.claimFIFO(ctx, conf)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					backoff = w.claimFailed(ctx, backoff, err)
					continue
				}
				backoff, next = 0, nextDue
				if len(jobs) > 0 {
					w.enqueue(0, jobs)
					waitFreed = true
				}
			}
		} else if room := w.reserveClaim(breakerLimit(w.qcap, limit)); room == 0 {
			waitFreed = true
		} else {
			jobs, nextDue, err := w.claim(ctx, conf, room)
			if err != nil {
				w.unreserve(room)
				if ctx.Err() != nil {
					return
				}
				backoff = w.claimFailed(ctx, backoff, err)
				continue
			}
			backoff, next = 0, nextDue
			w.backlog.Store(len(jobs) == room)
			w.enqueue(room, jobs)
			if len(jobs) == room {
				continue // there may be more due
			}
		}
		poll := time.NewTimer(s.cfg.PollInterval)
		var due <-chan time.Time
		var dueTimer *time.Timer
		if !next.IsZero() {
			dueTimer = s.clock.NewTimer(max(next.Sub(s.now()), 0))
			due = dueTimer.C
		}
		var freed <-chan struct{}
		if waitFreed {
			freed = w.freed
		}
		select {
		case <-ctx.Done():
		case <-w.wakeCh:
		case <-freed:
		case <-due:
		case <-poll.C:
		}
		poll.Stop()
		if dueTimer != nil {
			dueTimer.Stop()
		}
	}
}

// reserveClaim reserves queue places for a claim of at most n deliveries,
// and at least claimMin of them (or n, if smaller).
func (w *endpointWorker) reserveClaim(n int) int { return w.reserveMin(min(w.claimMin(), n), n) }

// claimMin is how many free places in its queue the worker waits for before
// it claims: half the queue while there is a backlog, else one.

func (w *endpointWorker) claimMin() int {
	if w.backlog.Load() {
		return max(w.qcap/2, 1)
	}
	return 1
}

func (w *endpointWorker) claimFailed(ctx context.Context, backoff time.Duration, err error) time.Duration {
	backoff = min(max(2*backoff, 10*time.Millisecond), time.Second)
	w.s.logger.WarnContext(ctx, "Webhook claim failed", slog.String("endpoint_id", w.id), slog.Any("error", err))
	sleepCtx(ctx, backoff)
	return backoff
}

// abortQueued hands the queued jobs of a stopping worker to the recorder,
// which releases their claims.
func (w *endpointWorker) abortQueued() {
	w.qmu.Lock()
	jobs := w.q
	w.q = nil
	w.qmu.Unlock()
	for _, j := range jobs {
		w.s.results <- &result{aborted: true, job: j, w: w, conf: w.conf.Load()}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

const jobCols = `id, event_id, event_seq, kind, session_id, tenant_id, payload, attempts, tries, next_at`

func scanJob(sc interface{ Scan(...any) error }) (*job, error) {
	var j job
	var payload string
	var next int64
	if err := sc.Scan(&j.id, &j.eventID, &j.eventSeq, &j.kind, &j.sessionID, &j.tenant, &payload, &j.attempts, &j.tries,
		&next); err != nil {
		return nil, err
	}
	j.payload, j.dueAt = []byte(payload), fromMicros(next)
	return &j, nil
}

// claim leases up to limit due deliveries of the endpoint. It returns the
// jobs and, when it found fewer than limit, the due time of the next pending
// one that is not leased (zero if none).
func (w *endpointWorker) claim(ctx context.Context, conf *endpointConf, limit int) ([]*job, time.Time, error) {
	s := w.s
	now := s.now()
	lease := s.lease(now, conf)
	lock := ""
	if s.db.dialect == store.DialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var jobs []*job
	var next time.Time
	busy := w.busyIDs()
	notBusy := func(first int) string {
		if len(busy) == 0 {
			return ""
		}
		var sb strings.Builder
		sb.WriteString(" AND id NOT IN (")
		for i := range busy {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "$%d", first+i)
		}
		sb.WriteString(")")
		return sb.String()
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		jobs = jobs[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE waqtor_webhook_deliveries SET lease_until = $1 WHERE id IN (
			SELECT id FROM waqtor_webhook_deliveries WHERE endpoint_id = $2 AND state = 'pending' AND next_at <= $3
			AND lease_until < $3`+notBusy(5)+` ORDER BY next_at LIMIT $4`+lock+`) RETURNING `+jobCols,
			append([]any{lease, w.id, micros(now), limit}, busy...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			j.lease, j.endpoint = lease, w.id
			jobs = append(jobs, j)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(jobs) < limit {
			var n sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MIN(next_at) FROM waqtor_webhook_deliveries WHERE endpoint_id = $1
				AND state = 'pending' AND lease_until < $2`+notBusy(3), append([]any{w.id, micros(now)}, busy...)...).Scan(&n); err != nil {
				return err
			}
			if n.Valid {
				next = fromMicros(n.Int64)
			}
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, dbErr(err)
	}
	return jobs, next, nil
}

// claimFIFO leases the endpoint's oldest pending delivery if it is due and
// not leased.
func (w *endpointWorker) claimFIFO(ctx context.Context, conf *endpointConf) ([]*job, time.Time, error) {
	s := w.s
	now := s.now()
	lease := micros(now.Add(conf.ep.Timeout + s.cfg.LeaseMargin))
	var id string
	var nextAt, leaseUntil int64
	err := s.db.sql.QueryRowContext(ctx, `SELECT id, next_at, lease_until FROM waqtor_webhook_deliveries
		WHERE endpoint_id = $1 AND state = 'pending' ORDER BY event_seq LIMIT 1`, w.id).Scan(&id, &nextAt, &leaseUntil)
	if isNoRows(err) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, dbErr(err)
	}
	if nextAt > micros(now) {
		return nil, fromMicros(nextAt), nil
	}
	if leaseUntil >= micros(now) || w.isBusy(id) {
		return nil, fromMicros(leaseUntil), nil // in flight; its outcome wakes the worker
	}
	j, err := scanJob(s.db.sql.QueryRowContext(ctx, `UPDATE waqtor_webhook_deliveries SET lease_until = $1
		WHERE id = $2 AND lease_until = $3 AND state = 'pending' RETURNING `+jobCols, lease, id, leaseUntil))
	if isNoRows(err) {
		return nil, now, nil // someone else claimed it
	}
	if err != nil {
		return nil, time.Time{}, dbErr(err)
	}
	j.lease, j.endpoint = lease, w.id
	return []*job{j}, time.Time{}, nil
}

// result is the outcome of one attempt, for the recorder.
type result struct {
	aborted   bool // the Service is stopping: release the claim, record nothing
	body      string
	conf      *endpointConf
	errMsg    string
	job       *job
	latency   time.Duration
	o         outcome
	started   time.Time
	truncated bool
	w         *endpointWorker
	wts       int64
}

// attempt runs in a request slot: it delivers j, then the next queued jobs,
// and gives the slot back when the queue is empty.
func (w *endpointWorker) attempt(j *job) {
	s := w.s
	defer func() {
		w.release()
		s.inflight.Done()
	}()
	for j != nil {
		if w.br.start(s.now(), j.id) {
			r := s.deliver(s.attemptCtx, w.conf.Load(), j)
			r.w = w
			s.results <- r
		} else {
			// The breaker holds it back: release the claim, count no attempt.
			s.results <- &result{aborted: true, job: j, w: w, conf: w.conf.Load()}
		}
		if s.lifeCtx.Err() != nil {
			return // stopping: queued jobs are released by the worker
		}
		j = w.pop()
	}
}

// deliver makes one attempt. Its time and memory are bounded: the endpoint's
// timeout covers connecting, sending and reading the response, response
// headers are capped by the transport, and at most MaxResponseBytes of the
// (decoded) body are read.
func (s *Service) deliver(parent context.Context, conf *endpointConf, j *job) *result {
	ep := conf.ep
	r := &result{conf: conf, job: j, started: s.now()}
	r.wts = r.started.Unix()
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	timer := s.clock.AfterFunc(ep.Timeout, func() { cancel(errAttemptTimeout) })
	defer timer.Stop()
	fail := func(msg string) *result {
		r.latency = s.now().Sub(r.started)
		r.errMsg = msg
		return r
	}
	sg, err := conf.signerAt(r.started)
	if err != nil {
		return fail("cannot sign: " + err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(j.payload))
	if err != nil {
		return fail("invalid URL: " + err.Error())
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.User != nil {
		return fail("URL refused: webhooks use http or https URLs without user:password@")
	}
	for k, v := range ep.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(HeaderEvent, j.kind)
	req.Header.Set(HeaderDelivery, j.id)
	sg.sign(req.Header, j.eventID, r.started, j.payload)
	if ep.HubSignature {
		signHub(req.Header)
	}

	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errAttemptTimeout) {
			r.o.timeout = true
			return fail(fmt.Sprintf("timeout after %s", ep.Timeout))
		}
		if parent.Err() != nil {
			r.aborted = true
			return fail("cancelled: service stopping")
		}
		msg := transportError(err)
		if reason, ok := refusal(err); ok {
			// The attempt log is readable through the API: the addresses and
			// the resolver go to the service's log only.
			s.logRefusal(ctx, "Webhook delivery refused", ep.ID, ep.URL, unwrapURL(err))
			msg = reason
			if errors.Is(err, netguard.ErrBlocked) {
				msg = "blocked by the SSRF guard: " + reason
			}
		}
		return fail(msg)
	}
	defer resp.Body.Close()
	r.o.status = resp.StatusCode
	r.o.success = resp.StatusCode >= 200 && resp.StatusCode < 300
	r.o.gone = resp.StatusCode == http.StatusGone
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), r.started); ok {
		r.o.retryAfter, r.o.hasRA = ra, true
	}
	r.body, r.truncated, err = s.readBody(resp)
	r.latency = s.now().Sub(r.started)
	switch {
	case r.o.success:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.errMsg = fmt.Sprintf("HTTP %d redirect to %q not followed: configure the final URL", resp.StatusCode,
			truncate(resp.Header.Get("Location"), 200))
	case r.o.gone:
		r.errMsg = "HTTP 410 Gone: endpoint disabled"
	default:
		r.errMsg = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	if err != nil && !r.o.success {
		if errors.Is(context.Cause(ctx), errAttemptTimeout) {
			r.errMsg += fmt.Sprintf(" (reading the body timed out after %s)", ep.Timeout)
		} else {
			r.errMsg += " (reading the body: " + err.Error() + ")"
		}
	}
	if r.aborted = !r.o.success && parent.Err() != nil; r.aborted {
		r.errMsg = "cancelled: service stopping"
	}
	return r
}

// readBody reads at most MaxResponseBytes of the decoded body and reports
// whether there was more.
func (s *Service) readBody(resp *http.Response) (string, bool, error) {
	max := s.cfg.MaxResponseBytes
	rc, err := netguard.LimitBody(resp, max)
	truncated := false
	if errors.Is(err, netguard.ErrTooLarge) {
		rc, truncated, err = io.NopCloser(io.LimitReader(resp.Body, max)), true, nil
	}
	if err != nil {
		return "", false, err
	}
	buf := make([]byte, 0, min(max, 4096))
	b := bytes.NewBuffer(buf)
	_, err = b.ReadFrom(rc)
	if errors.Is(err, netguard.ErrTooLarge) {
		truncated, err = true, nil
	}
	out := b.Bytes()
	if int64(len(out)) > max {
		out = out[:max]
	}
	return sanitize(out), truncated, err
}

// sanitize makes a response body storable as text on both databases.
func sanitize(b []byte) string {
	s := strings.ReplaceAll(string(b), "\x00", "")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// transportError describes a failed request without the method and URL that
// *url.Error repeats.
func transportError(err error) string {
	switch {
	case errors.Is(err, netguard.ErrBlocked):
		return "blocked by the SSRF guard: " + strings.TrimPrefix(unwrapURL(err).Error(), "netguard: ")
	case errors.Is(err, netguard.ErrInvalidURL), errors.Is(err, netguard.ErrScheme):
		return "URL refused: " + strings.TrimPrefix(unwrapURL(err).Error(), "netguard: ")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "connection failed: " + opErr.Err.Error()
	}
	return unwrapURL(err).Error()
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
