package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/corelink"
)

// Service runs a Core's campaigns, attached with [New]: it keeps campaigns and
// their recipients in the Core's database, sends through the Core's sessions
// at the pace each campaign's [Pacing] allows, and follows the Core's event
// log to move recipients through sent, delivered and read.
//
// A campaign never loses or doubles a recipient: each recipient's message ID
// and idempotency key are chosen and stored when a sender claims it, before
// the send, so a send interrupted by a crash is repeated after restart under
// the same ID, which the Core turns into a replay when it had stored it.
// Claims are leased, so several processes on one PostgreSQL database never
// send to a recipient twice.
//
// All methods are safe for concurrent use.
type Service struct {
	cfg    *Config
	core   *waqtor.Core
	db     *db
	logger *slog.Logger
	clock  Clock

	state   atomic.Int32 // svcNew, svcStarted, svcStopped
	lifeCtx context.Context
	cancel  context.CancelCauseFunc
	loops   sync.WaitGroup
	stopped chan struct{}
	once    sync.Once

	mu       sync.Mutex
	senders  map[string]*sender // by sessionKey
	dirty    map[string]bool    // campaigns whose counts changed since their last progress event
	contents map[string]*compiledEntry
	rndMu    sync.Mutex
	rnd      *rand.Rand
	kickPoll chan struct{}
}

const (
	svcNew int32 = iota
	svcStarted
	svcStopped
)

// New attaches a campaign Service to core: it creates or migrates the
// campaign tables in the Core's database. The campaign API works at once;
// call Start to run campaigns. Errors wrap ErrConfig or ErrDatabase.
func New(ctx context.Context, core *waqtor.Core, cfg *Config) (*Service, error) {
	if core == nil {
		return nil, fmt.Errorf("%w: nil Core (build one with waqtor.NewCore)", ErrConfig)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st := corelink.Store(core)
	if err := st.MigrateComponent(ctx, "campaign", migrations()); err != nil {
		return nil, dbErr(err)
	}
	if err := st.Prepare(ctx, hotQueries()...); err != nil {
		return nil, dbErr(err)
	}
	seed := cfg.Test.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Service{
		cfg:      cfg,
		core:     core,
		db:       &db{sql: st.DB, st: st, dialect: st.Dialect},
		logger:   cfg.Logger,
		clock:    cfg.Test.Clock,
		stopped:  make(chan struct{}),
		senders:  map[string]*sender{},
		dirty:    map[string]bool{},
		contents: map[string]*compiledEntry{},
		rnd:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		kickPoll: make(chan struct{}, 1),
	}
	s.lifeCtx, s.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	return s, nil
}

// Start runs campaigns: it follows the event log, starts scheduled campaigns
// when due, and sends for running ones. It returns at once; ctx bounds the
// Service's lifetime (call Stop to wait for it to end).
func (s *Service) Start(ctx context.Context) error {
	if !s.state.CompareAndSwap(svcNew, svcStarted) {
		if s.state.Load() == svcStarted {
			return nil
		}
		return ErrStopped
	}
	cur, err := s.core.Cursor(ctx, s.cfg.CursorName, &waqtor.CursorOpts{Start: waqtor.FromNewest,
		Filter: waqtor.LogReadParams{Kinds: followedKinds}})
	if err != nil {
		s.state.Store(svcNew)
		return fmt.Errorf("campaign: open event-log cursor: %w", err)
	}
	// Claims of an earlier run of this node are void: that process is gone.
	if _, err := s.db.sql.ExecContext(ctx, `UPDATE waqtor_campaign_recipients SET claim_until = 0
		WHERE state = 'sending' AND claim_owner = $1`, s.cfg.NodeID); err != nil {
		s.state.Store(svcNew)
		return dbErr(err)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.cancel(context.Cause(ctx))
		case <-s.lifeCtx.Done():
		}
	}()
	s.goLoop(func(ctx context.Context) { s.follow(ctx, cur) })
	s.goLoop(s.poll)
	s.goLoop(s.progressLoop)
	return nil
}

// Stop stops sending and waits, bounded by ctx, for sends in progress to be
// recorded. Campaigns keep their state: running ones go on after the next
// Start. Stop is safe to call more than once.
func (s *Service) Stop(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.state.Store(svcStopped)
		s.cancel(ErrStopped)
		done := make(chan struct{})
		go func() { s.loops.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("campaign: stop: %w", ctx.Err())
		}
		close(s.stopped)
	})
	return err
}

// Stopped returns a channel closed once Stop has finished.
func (s *Service) Stopped() <-chan struct{} { return s.stopped }

func (s *Service) goLoop(fn func(ctx context.Context)) {
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		fn(s.lifeCtx)
	}()
}

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

// kick makes the poll loop look for work at once.
func (s *Service) kick() {
	select {
	case s.kickPoll <- struct{}{}:
	default:
	}
}

func (s *Service) markDirty(ids ...string) {
	s.mu.Lock()
	for _, id := range ids {
		s.dirty[id] = true
	}
	s.mu.Unlock()
}

// inTx runs fn in a transaction and publishes the events it emitted after
// the commit.
func (s *Service) inTx(ctx context.Context, fn func(tx *sql.Tx, em *emitter) error) error {
	em := &emitter{s: s}
	err := s.db.st.InTx(ctx, func(tx *sql.Tx) error {
		em.reset()
		return fn(tx, em)
	})
	if err != nil {
		return err
	}
	em.publishAll()
	return nil
}

// emitter appends campaign events to the Core's log inside a transaction.
type emitter struct {
	s    *Service
	pubs []func()
}

func (em *emitter) reset() { em.pubs = em.pubs[:0] }

func (em *emitter) emit(ctx context.Context, tx *sql.Tx, tenant string, events ...waqtor.Event) error {
	anys := make([]any, len(events))
	for i, e := range events {
		anys[i] = e
	}
	pub, err := corelink.EmitTx(ctx, em.s.core, tx, "", tenant, anys...)
	if err != nil {
		return err
	}
	em.pubs = append(em.pubs, pub)
	return nil
}

func (em *emitter) publishAll() {
	for _, p := range em.pubs {
		p()
	}
}
