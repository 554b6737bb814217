package campaign_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/campaign"
	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/sandbox"
)

// The crash test runs the Core and the campaign Service in a child process
// (this test binary, re-executed) that sends a campaign through the sandbox,
// and kills it with SIGKILL at random moments. Each child has a new sandbox
// network whose send log goes, record by record, to a file outside the
// process; the parent reads it, with the database, once a last child has let
// the campaign complete.

const (
	crashChildEnv = "WAQTOR_CAMPAIGN_CRASH_CHILD"
	crashDirEnv   = "WAQTOR_CAMPAIGN_CRASH_DIR"
	crashDSNEnv   = "WAQTOR_CAMPAIGN_CRASH_DSN"
	crashModeEnv  = "WAQTOR_CAMPAIGN_CRASH_MODE" // "run" or "finish"
	crashSizeEnv  = "WAQTOR_CAMPAIGN_CRASH_RECIPIENTS"
	// crashVerboseEnv, when set, sends the child's warnings to the test log.
	crashVerboseEnv = "WAQTOR_CAMPAIGN_CRASH_VERBOSE"

	crashNodeID  = "crash-node"
	crashSession = "main"
)

// sendRecord is one send attempt of the sandbox, as the child appends it to
// sends.jsonl.
type sendRecord struct {
	Chat      string    `json:"chat"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Err       string    `json:"err,omitempty"`
	ID        string    `json:"id"`
	Life      int       `json:"life"` // the child's process ID
	Session   string    `json:"session"`
	Text      string    `json:"text"`
	Time      time.Time `json:"time"`
}

// crashRecipients is the campaign's recipient list: n distinct valid phones,
// then two invalid ones and three repeats, which the campaign skips.
func crashRecipients(n int) []campaign.RecipientInput {
	rs := phones(n)
	for i := range rs {
		rs[i].Variables = map[string]string{"n": strconv.Itoa(i)}
	}
	return append(rs, campaign.RecipientInput{Phone: "not a phone"}, campaign.RecipientInput{Phone: "+1"},
		rs[0], rs[n/2], rs[n-1])
}

// optedOutPhone reports whether the contact of the i-th phone opts out of
// marketing messages before the campaign starts.
func optedOutPhone(i int) bool { return i%97 == 13 }

// optOutInForce: the opted-out phones must receive nothing and end skipped
// with reason opted_out.
const optOutInForce = true

// optOut records that the contact of phone opted out of marketing messages,
// so that the campaign skips it (reason opted_out) and sends it nothing. It
// is idempotent: every life of the child calls it, before the campaign is
// created or executed (a repeated opt-out changes nothing).
func optOut(ctx context.Context, core *waqtor.Core, phone string) error {
	_, err := core.SetConsent(ctx, &waqtor.ConsentChange{Contact: phone, Scope: waqtor.ConsentMarketing,
		Status: waqtor.ConsentOptedOut, Source: "crm"})
	return err
}

func crashChild() int {
	if err := runCrashChild(); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 1
	}
	return 0
}

func runCrashChild() error {
	ctx := context.Background()
	dir, dsn, mode := os.Getenv(crashDirEnv), os.Getenv(crashDSNEnv), os.Getenv(crashModeEnv)
	n, err := strconv.Atoi(os.Getenv(crashSizeEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", crashSizeEnv, err)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv(crashVerboseEnv) != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	life := os.Getpid()
	sendLog, err := os.OpenFile(filepath.Join(dir, "sends.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	var logMu sync.Mutex
	var firstSend sync.Once
	network := sandbox.NewNetwork(&sandbox.Config{
		// Receipts wait until SendLogFunc has a send's record, so none can
		// reach the Core (and be committed before a kill) ahead of the record.
		AutoPair: true, ConnectLatency: -1, DeliverLatency: time.Millisecond, Logger: logger,
		SendLogFunc: func(r sandbox.SendRecord) {
			rec := sendRecord{Chat: r.Chat, Duplicate: r.Duplicate, ID: r.ID, Life: life, Session: r.Session, Time: r.Time}
			if r.Err != nil {
				rec.Err = r.Err.Error()
			}
			if txt, ok := r.Content.(*waqtor.Text); ok {
				rec.Text = txt.Body
			}
			b, _ := json.Marshal(rec)
			logMu.Lock()
			// One write per record: what the kernel took survives a SIGKILL.
			_, werr := sendLog.Write(append(b, '\n'))
			logMu.Unlock()
			if werr != nil {
				fmt.Fprintln(os.Stderr, "crash child: send log:", werr)
				os.Exit(2)
			}
			if r.Err == nil {
				firstSend.Do(func() { fmt.Println("sent") })
			}
		},
	})
	// A millisecond per send: unpaced sends are otherwise so fast that a
	// life could finish the campaign before the parent kills it.
	network.SetSendLatency(crashSession, time.Millisecond)
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: network.Factory(), Logger: logger,
		RetryInterval: 20 * time.Millisecond, SendTimeout: time.Second, MaxSendAttempts: 1000})
	if err != nil {
		return err
	}
	if err := core.Start(ctx); err != nil {
		return err
	}
	if _, err := core.Session(ctx, crashSession); errors.Is(err, waqtor.ErrSessionNotFound) {
		if _, err := core.CreateSession(ctx, &waqtor.CreateSessionParams{ID: crashSession}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	svc, err := campaign.New(ctx, core, &campaign.Config{NodeID: crashNodeID, ClaimLease: 3 * time.Second,
		PollInterval: 20 * time.Millisecond, ProgressInterval: 50 * time.Millisecond, Logger: logger})
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	rs := crashRecipients(n)
	for i := range n {
		if optedOutPhone(i) {
			if err := optOut(ctx, core, rs[i].Phone); err != nil {
				return err
			}
		}
	}
	list, err := svc.List(ctx, nil)
	if err != nil {
		return err
	}
	var c *campaign.Campaign
	switch len(list.Campaigns) {
	case 0:
		if c, _, err = svc.Create(ctx, &campaign.CreateParams{Name: "Crash", Sessions: []string{crashSession},
			Content: campaign.Content{Text: "Hello {{n}}"}, Pacing: &campaign.Pacing{Unpaced: true}, Recipients: rs}); err != nil {
			return err
		}
	case 1:
		c = list.Campaigns[0]
	default:
		return fmt.Errorf("%d campaigns, want one", len(list.Campaigns))
	}
	if c.State == campaign.StateDraft {
		if c, err = svc.Execute(ctx, c.ID); err != nil {
			return err
		}
	}
	fmt.Printf("ready %s %d\n", c.State, c.Counts.Pending)
	if mode != "finish" {
		select {} // until killed
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if c, err = svc.Get(ctx, c.ID); err != nil {
			return err
		}
		if c.State.Final() {
			fmt.Printf("finished %s\n", c.State)
			return errors.Join(svc.Stop(ctx), core.Stop(ctx), network.Close(ctx), sendLog.Close())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if os.Getenv(crashVerboseEnv) != "" {
		buf := make([]byte, 1<<22)
		os.Stderr.Write(buf[:runtime.Stack(buf, true)])
	}
	return fmt.Errorf("campaign %s did not finish: %s, counts %+v; %s", c.ID, c.State, c.Counts, crashDiagnosis(ctx, core, c.ID))
}

// crashDiagnosis describes why a campaign may be stuck: its recipients by
// state, the session, and the Core's messages by status.
func crashDiagnosis(ctx context.Context, core *waqtor.Core, id string) string {
	var out []string
	if s, err := core.Session(ctx, crashSession); err == nil {
		out = append(out, fmt.Sprintf("session %s", s.State))
	}
	db := corelink.Store(core).DB
	for _, q := range []string{
		`SELECT state || CASE WHEN claim_until > 0 THEN ' (claimed)' ELSE '' END, COUNT(*) FROM waqtor_campaign_recipients
			WHERE campaign_id = $1 GROUP BY 1`,
		`SELECT 'messages ' || direction || ' ' || status, COUNT(*) FROM waqtor_messages WHERE $1 <> '' GROUP BY 1`,
		`SELECT r.state || ', message ' || COALESCE(m.status, 'not stored'), COUNT(*) FROM waqtor_campaign_recipients r
			LEFT JOIN waqtor_messages m ON m.id = r.message_id WHERE r.campaign_id = $1 AND r.state IN ('pending', 'sending')
			GROUP BY 1`,
	} {
		rows, err := db.QueryContext(ctx, q, id)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for rows.Next() {
			var k string
			var n int
			_ = rows.Scan(&k, &n)
			out = append(out, fmt.Sprintf("%s: %d", k, n))
		}
		_ = rows.Close()
	}
	return strings.Join(out, "; ")
}

// crashLife is a running child.
type crashLife struct {
	cmd   *exec.Cmd
	lines chan string
	sent  bool // the child reported its first send
}

func (l *crashLife) next(t *testing.T, timeout time.Duration) (string, bool) {
	t.Helper()
	select {
	case line, ok := <-l.lines:
		if line == "sent" {
			l.sent = true
		}
		return line, ok
	case <-time.After(timeout):
		return "", false
	}
}

// ready waits for the child's "ready" line (sends may come before it: the
// campaign goes on as soon as the Service starts) and returns it.
func (l *crashLife) ready(t *testing.T) (string, bool) {
	t.Helper()
	for {
		line, ok := l.next(t, time.Minute)
		if !ok || line != "sent" {
			return line, ok
		}
	}
}

// TestCampaignCrashAnywhere kills the process that runs a campaign with
// SIGKILL at random moments, over and over, then lets it complete: every
// recipient ends in a final state, each one sent to got exactly one message
// ID (its stored one), nobody else got anything, and the counts match.
func TestCampaignCrashAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the binary")
	}
	t.Parallel()
	// Under -race on a loaded 2-core machine a life takes about a second to
	// start, and the engine sends some 15 (SQLite) to 40 (PostgreSQL)
	// messages a second: this takes up to three minutes per database, the
	// two in parallel. The nightly tier's 1,000 kills need a -timeout of an
	// hour.
	kills := 50
	if os.Getenv("WAQTOR_NIGHTLY") != "" {
		kills = 1000
	}
	if v, err := strconv.Atoi(os.Getenv("WAQTOR_CAMPAIGN_KILLS")); err == nil {
		kills = v
	}
	// At least 5 recipients a kill, so that every kill lands mid-campaign
	// (each life sends a few before it dies).
	n := max(2000, 5*kills)
	if v, err := strconv.Atoi(os.Getenv("WAQTOR_CAMPAIGN_RECIPIENTS")); err == nil {
		n = v
	}
	for _, kind := range dbtest.AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			crashCampaign(t, kind, kills, n)
		})
	}
}

func crashCampaign(t *testing.T, kind dbtest.Kind, kills, n int) {
	dir := t.TempDir()
	dsn := dbtest.DSN(t, kind)
	sendsPath := filepath.Join(dir, "sends.jsonl")
	exe, err := os.Executable()
	require.NoError(t, err)
	start := func(mode string) *crashLife {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir, crashDSNEnv+"="+dsn,
			crashModeEnv+"="+mode, crashSizeEnv+"="+strconv.Itoa(n))
		cmd.Stderr = &prefixWriter{t: t}
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // a child left running by a failure
		l := &crashLife{cmd: cmd, lines: make(chan string, 8)}
		go func() {
			defer close(l.lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				l.lines <- sc.Text()
			}
		}()
		return l
	}

	// Kills are spread over the campaign: every other life runs until the
	// send log has grown to its share of 90% of the recipients and dies a
	// random 5–80 ms later, among sends however slow the machine is; the
	// others die 5–80 ms after start-up, among the replays, resends and
	// released claims of the lives before.
	began := time.Now()
	progress := &sendCounter{path: sendsPath}
	defer progress.close()
	var sentAtKill []int // successful sends in the log when each kill landed
	midSend := 0         // kills that landed after a send of their life
	for i := range kills {
		l := start("run")
		line, ok := l.ready(t)
		require.True(t, ok, "child %d did not start", i)
		require.True(t, strings.HasPrefix(line, "ready "), "child %d: %q", i, line)
		require.NotContains(t, line, string(campaign.StateCompleted), "the campaign completed before kill %d of %d", i, kills)
		limit := progress.count(t) // a life may send a few more than this before it dies
		if i%2 == 1 {
			target := (i + 1) * n * 9 / 10 / kills
			for wait := time.Now(); progress.count(t) < target; time.Sleep(2 * time.Millisecond) {
				require.Less(t, time.Since(wait), time.Minute, "child %d: the campaign is stuck at %d sends, short of %d",
					i, progress.count(t), target)
			}
			limit = target
		}
		// A random 5–80 ms later, or sooner on a fast machine, once the life
		// has sent a few more: so that the kills stay spread over the
		// campaign however fast it sends.
		for deadline := time.Now().Add(time.Duration(5+rand.IntN(76)) * time.Millisecond); time.Now().Before(deadline) &&
			progress.count(t) < limit+2; {
			time.Sleep(time.Millisecond)
		}
		require.NoError(t, l.cmd.Process.Signal(syscall.SIGKILL))
		_ = l.cmd.Wait()
		for line := range l.lines {
			if line == "sent" {
				l.sent = true
			}
		}
		if l.sent {
			midSend++
		}
		sentAtKill = append(sentAtKill, progress.count(t))
	}
	killed := time.Since(began)

	l := start("finish")
	line, ok := l.ready(t)
	require.True(t, ok, "the last child did not start")
	var state string
	var pendingAtFinish int
	_, err = fmt.Sscanf(line, "ready %s %d", &state, &pendingAtFinish)
	require.NoError(t, err, "last child: %q", line)
	require.Positive(t, pendingAtFinish, "every kill must land before the campaign ends")
	var rest []string
	for line := range l.lines {
		rest = append(rest, line)
	}
	require.NoError(t, l.cmd.Wait(), "last child: %v", rest)
	require.Contains(t, rest, "finished completed")
	finished := time.Since(began) - killed

	rep := verifyCrashCampaign(t, dsn, sendsPath, n)
	t.Logf("%s: %d kills in %s (%d after a send of their life; the log held %d, %d, %d successful sends at the first, "+
		"middle and last kill), %d recipients left for the last life, which finished in %s; %d recipients: %+v; "+
		"%d send attempts, %d failed, %d repeats of an ID the engine had sent already, 0 distinct-ID duplicates",
		kind, kills, killed.Round(time.Millisecond), midSend, at(sentAtKill, 0), at(sentAtKill, kills/2),
		at(sentAtKill, kills-1), pendingAtFinish, finished.Round(time.Millisecond), rep.total, rep.counts,
		rep.attempts, rep.failedAttempts, rep.repeats)
}

func at(s []int, i int) int {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

// sendCounter counts the successful sends in the send log as it grows.
type sendCounter struct {
	path string
	f    *os.File
	buf  []byte // the start of a line not complete yet
	n    int
}

func (c *sendCounter) count(t *testing.T) int {
	t.Helper()
	if c.f == nil {
		f, err := os.Open(c.path)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		require.NoError(t, err)
		c.f = f
	}
	b, err := io.ReadAll(c.f)
	require.NoError(t, err)
	c.buf = append(c.buf, b...)
	for {
		line, rest, ok := bytes.Cut(c.buf, []byte("\n"))
		if !ok {
			break
		}
		var r sendRecord
		require.NoError(t, json.Unmarshal(line, &r), "send log line %q", line)
		if r.Err == "" {
			c.n++
		}
		c.buf = rest
	}
	c.buf = slices.Clone(c.buf)
	return c.n
}

func (c *sendCounter) close() {
	if c.f != nil {
		_ = c.f.Close()
	}
}

type crashReport struct {
	total                             int
	counts                            waqtor.CampaignCounts
	attempts, failedAttempts, repeats int
}

// verifyCrashCampaign checks the campaign and the send log after the last
// child completed it.
func verifyCrashCampaign(t *testing.T, dsn, sendsPath string, n int) crashReport {
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dsn, Engine: sandbox.NewNetwork(nil).Factory(),
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, core.Stop(ctx)) }()
	svc, err := campaign.New(ctx, core, nil)
	require.NoError(t, err)
	list, err := svc.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.Campaigns, 1)
	c := list.Campaigns[0]
	require.Equal(t, campaign.StateCompleted, c.State)

	// Every recipient in a final state, and the counts are theirs.
	inputs := crashRecipients(n)
	var got waqtor.CampaignCounts
	byChat := map[string]*campaign.Recipient{} // recipients that were to be sent to
	optedOut := map[string]bool{}
	var all []*campaign.Recipient
	for after := int64(0); ; {
		page, err := svc.Recipients(ctx, c.ID, &campaign.RecipientListParams{After: after, Limit: 1000})
		require.NoError(t, err)
		all = append(all, page.Recipients...)
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	require.Len(t, all, len(inputs))
	for i, r := range all {
		require.Equal(t, int64(i+1), r.Seq)
		got.Total++
		switch r.State {
		case campaign.RecipientSent, campaign.RecipientDelivered, campaign.RecipientRead:
			got.Sent++
			if r.State != campaign.RecipientSent {
				got.Delivered++
			}
			if r.State == campaign.RecipientRead {
				got.Read++
			}
		case campaign.RecipientFailed:
			got.Failed++
		case campaign.RecipientSkipped:
			got.Skipped++
		default:
			t.Fatalf("recipient %d (%s) is %s after the campaign completed", r.Seq, r.Phone, r.State)
		}
		if i >= n {
			require.Equal(t, campaign.RecipientSkipped, r.State, "recipient %d (%q)", r.Seq, r.Phone)
			continue
		}
		require.Equal(t, inputs[i].Phone, r.Phone)
		require.NotEmpty(t, r.Chat)
		byChat[r.Chat] = r
		if optedOutPhone(i) {
			optedOut[r.Chat] = true
			if optOutInForce {
				require.Equal(t, campaign.RecipientSkipped, r.State, "opted-out recipient %d", r.Seq)
				require.Equal(t, campaign.ReasonOptedOut, r.Reason, "opted-out recipient %d", r.Seq)
				continue
			}
		}
		require.Contains(t, []campaign.RecipientState{campaign.RecipientSent, campaign.RecipientDelivered,
			campaign.RecipientRead}, r.State, "recipient %d (%s): %s %s", r.Seq, r.Phone, r.Reason, r.Detail)
	}
	require.Equal(t, got, c.Counts, "the campaign's counts are its recipients'")

	// Each recipient sent to received exactly its stored message ID; nobody
	// else received anything.
	recs := readJSONL[sendRecord](t, sendsPath)
	rep := crashReport{total: len(all), counts: c.Counts, attempts: len(recs)}
	ids := map[string]map[string]int{} // chat -> message ID -> successful sends
	for _, s := range recs {
		if s.Err != "" {
			rep.failedAttempts++
			continue
		}
		require.Equal(t, crashSession, sessionOf(s.Session), "send %s", s.ID)
		require.Contains(t, byChat, s.Chat, "a send to %s, who is not a recipient", s.Chat)
		r := byChat[s.Chat]
		require.Equal(t, "Hello "+strconv.FormatInt(r.Seq-1, 10), s.Text, "the text sent to recipient %d", r.Seq)
		if ids[s.Chat] == nil {
			ids[s.Chat] = map[string]int{}
		}
		ids[s.Chat][s.ID]++
	}
	for chat, r := range byChat {
		sent := ids[chat]
		if optOutInForce && optedOut[chat] {
			require.Empty(t, sent, "opted-out %s received messages", r.Phone)
			continue
		}
		if r.State == campaign.RecipientFailed || r.State == campaign.RecipientSkipped {
			require.Empty(t, sent, "recipient %d (%s) is %s but received messages", r.Seq, r.Phone, r.State)
			continue
		}
		require.Len(t, sent, 1, "recipient %d (%s) must receive exactly one message ID: %v", r.Seq, r.Phone, sent)
		require.Contains(t, sent, r.MessageID, "recipient %d (%s) received another ID than its own", r.Seq, r.Phone)
		rep.repeats += sent[r.MessageID] - 1
		m, err := core.Message(ctx, crashSession, r.MessageID)
		require.NoError(t, err, "recipient %d's message", r.Seq)
		require.Contains(t, []waqtor.MessageStatus{waqtor.StatusSent, waqtor.StatusDelivered, waqtor.StatusRead}, m.Status)
		require.Equal(t, r.Chat, m.Chat.JID)
	}
	return rep
}

// sessionOf returns the session ID of a sandbox session key, which may carry
// the tenant.
func sessionOf(key string) string {
	if _, id, ok := strings.Cut(key, "/"); ok {
		return id
	}
	return key
}

func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []T
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without its newline was torn by SIGKILL
		}
		require.NoError(t, err)
		var v T
		require.NoError(t, json.Unmarshal(line, &v), "line %q", line)
		out = append(out, v)
	}
	return out
}

type prefixWriter struct{ t *testing.T }

func (p *prefixWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }()
	p.t.Logf("child: %s", b)
	return len(b), nil
}
