package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"go.mau.fi/whatsmeow/util/keys"
	"log/slog"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/walog"
)

// Engine is the waqtor engine on go.mau.fi/whatsmeow. It keeps whatsmeow's
// device store in the Core's database and one whatsmeow device per session.
//
// All methods are safe for concurrent use.
type Engine struct {
	cfg       *Config
	container *sqlstore.Container
	db        *sql.DB
	dialect   string
	log       *slog.Logger
	ownsDB    bool
	tables    *tables
	waLog     waLog.Logger

	// newClient makes the client of a device; tests replace it with a fake.
	newClient func(dev *store.Device, log waLog.Logger) client
	now       func() time.Time

	mu     sync.Mutex
	closed bool
	conns  map[string]*conn
}

var (
	_ waqtor.Engine          = (*Engine)(nil)
	_ waqtor.EngineCloser    = (*Engine)(nil)
	_ waqtor.MediaDownloader = (*Engine)(nil)
)

// New returns the factory to put in waqtor.Config.Engine. cfg may be nil for the
// defaults.
func New(cfg *Config) waqtor.EngineFactory {
	return func(ctx context.Context, env *waqtor.EngineEnv) (waqtor.Engine, error) {
		return NewEngine(ctx, env, cfg)
	}
}

// NewEngine opens the device store on the Core's database and migrates it
// (whatsmeow's tables and the engine's whatsapp_* tables). env.DSN is opened as
// a separate pool for whatsmeow (required on SQLite, where the Core's pool has
// a single connection); when it is empty, env.DB is used.
func NewEngine(ctx context.Context, env *waqtor.EngineEnv, cfg *Config) (*Engine, error) {
	return newEngine(ctx, env, cfg, newWAClient)
}

func newEngine(ctx context.Context, env *waqtor.EngineEnv, cfg *Config, newClient func(*store.Device, waLog.Logger) client) (*Engine, error) {
	warmLibsignal()
	if env == nil {
		return nil, fmt.Errorf("%w: whatsapp.NewEngine needs the EngineEnv the Core passes to its EngineFactory", waqtor.ErrConfig)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, newClient: newClient, now: env.Now, conns: map[string]*conn{}}
	if e.now == nil {
		e.now = time.Now
	}
	e.log = cmpLogger(cfg.Logger, env.Logger).With(slog.String("engine", "whatsapp"))
	e.waLog = walog.New(e.log, nil)
	var driver string
	switch env.Dialect {
	case "sqlite":
		driver, e.dialect = "sqlite", "sqlite"
	case "postgres":
		driver, e.dialect = "pgx", "postgres"
	default:
		return nil, fmt.Errorf("%w: EngineEnv.Dialect is %q; the whatsapp engine supports \"sqlite\" and \"postgres\"", waqtor.ErrConfig, env.Dialect)
	}
	switch {
	case env.DSN != "":
		db, err := sql.Open(driver, env.DSN)
		if err != nil {
			return nil, fmt.Errorf("%w: whatsapp device store: %w", waqtor.ErrDatabase, err)
		}
		if e.dialect == "sqlite" {
			db.SetMaxOpenConns(cfg.SQLiteMaxConns)
		} else {
			db.SetMaxOpenConns(10)
		}
		e.db, e.ownsDB = db, true
	case env.DB != nil:
		e.db = env.DB
	default:
		return nil, fmt.Errorf("%w: EngineEnv has neither DSN nor DB", waqtor.ErrConfig)
	}
	if err := e.init(ctx); err != nil {
		if e.ownsDB {
			_ = e.db.Close()
		}
		return nil, err
	}
	return e, nil
}

func cmpLogger(ls ...*slog.Logger) *slog.Logger {
	for _, l := range ls {
		if l != nil {
			return l
		}
	}
	return slog.Default()
}

func (e *Engine) init(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.db.PingContext(pingCtx); err != nil {
		return fmt.Errorf("%w: whatsapp device store: %w", waqtor.ErrDatabase, err)
	}
	e.container = sqlstore.NewWithDB(e.db, e.dialect, e.waLog.Sub("Database"))
	if err := e.container.Upgrade(ctx); err != nil {
		hint := ""
		if strings.Contains(err.Error(), "foreign keys") {
			hint = " (add _pragma=foreign_keys(1) to the SQLite DSN)"
		}
		return fmt.Errorf("%w: migrate whatsmeow device store%s: %w", waqtor.ErrDatabase, hint, err)
	}
	e.tables = &tables{db: e.db, now: e.now}
	if err := e.tables.migrate(ctx); err != nil {
		return fmt.Errorf("%w: %w", waqtor.ErrDatabase, err)
	}
	applyDeviceProps(e.cfg.DeviceName)
	return nil
}

var devicePropsMu sync.Mutex

// applyDeviceProps sets the name the phone shows for linked devices. whatsmeow
// keeps it in package variables; they are only written when they change, so
// engines with the same name never race on them.
func applyDeviceProps(name string) {
	devicePropsMu.Lock()
	defer devicePropsMu.Unlock()
	if store.DeviceProps.GetOs() == name {
		return
	}
	store.DeviceProps.Os = &name
}

// Open returns the connection of a session without connecting it. The device
// is found through the whatsapp_sessions table, or adopted from s.JID; a
// session without one gets a fresh device and pairs on Connect.
func (e *Engine) Open(ctx context.Context, s *waqtor.EngineSession, h waqtor.ConnHandler) (waqtor.Conn, error) {
	if s == nil || s.ID == "" || h == nil {
		return nil, fmt.Errorf("%w: Open needs a session ID and a handler", waqtor.ErrConfig)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if _, ok := e.conns[s.ID]; ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrSessionOpen, s.ID)
	}
	e.conns[s.ID] = nil // reserved while the device loads
	e.mu.Unlock()

	dev, problem, err := e.loadDevice(ctx, s)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil || e.closed {
		delete(e.conns, s.ID)
		if err == nil {
			err = ErrClosed
		}
		return nil, err
	}
	c := newConn(e, *s, h, dev, problem)
	e.conns[s.ID] = c
	return c, nil
}

// loadDevice finds the session's device. A missing or unreadable device of a
// paired session is not an error: it comes back as a fresh device plus the
// problem (ErrDeviceNotFound, ErrDeviceCorrupt), which Connect reports as
// StateLoggedOut. Errors are database failures, worth retrying.
func (e *Engine) loadDevice(ctx context.Context, s *waqtor.EngineSession) (dev *store.Device, problem, err error) {
	mapped, err := e.tables.sessionDevice(ctx, s.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read session device: %w", waqtor.ErrDatabase, err)
	}
	if mapped != "" {
		jid, perr := types.ParseJID(mapped)
		if perr != nil {
			_ = e.tables.deleteSession(ctx, s.ID)
			return e.container.NewDevice(), fmt.Errorf("%w: session maps to %q: %v", ErrDeviceCorrupt, mapped, perr), nil
		}
		dev, err := e.container.GetDevice(ctx, jid)
		switch {
		case err != nil && isCorrupt(err):
			e.log.ErrorContext(ctx, "WhatsApp device keys are corrupt; the session must pair again",
				slog.String("session", s.ID), slog.String("device", mapped), slog.Any("error", err))
			_ = e.container.DeleteDevice(ctx, &store.Device{ID: &jid})
			_ = e.tables.deleteSession(ctx, s.ID)
			return e.container.NewDevice(), fmt.Errorf("%w: %v", ErrDeviceCorrupt, err), nil
		case err != nil:
			return nil, nil, fmt.Errorf("%w: read device %s: %w", waqtor.ErrDatabase, mapped, err)
		case dev == nil:
			_ = e.tables.deleteSession(ctx, s.ID)
			return e.container.NewDevice(), fmt.Errorf("%w: device %s", ErrDeviceNotFound, mapped), nil
		}
		return dev, nil, nil
	}
	if s.JID == "" {
		return e.container.NewDevice(), nil, nil
	}
	// The Core knows the session as paired but the engine has no mapping (the
	// table is new, or the row was lost): adopt the account's device if exactly
	// one unclaimed device matches.
	want, err := types.ParseJID(s.JID)
	if err != nil {
		return e.container.NewDevice(), fmt.Errorf("%w: session JID %q: %v", ErrDeviceNotFound, s.JID, err), nil
	}
	devs, err := e.container.GetAllDevices(ctx)
	if err != nil && !isCorrupt(err) {
		return nil, nil, fmt.Errorf("%w: list devices: %w", waqtor.ErrDatabase, err)
	}
	var match *store.Device
	for _, d := range devs {
		if d.ID == nil || d.ID.User != want.User || d.ID.Server != want.Server || (want.Device != 0 && d.ID.Device != want.Device) {
			continue
		}
		owner, err := e.tables.deviceSession(ctx, d.ID.String())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", waqtor.ErrDatabase, err)
		}
		if owner != "" {
			continue
		}
		if match != nil {
			return e.container.NewDevice(), fmt.Errorf("%w: several devices of %s and no mapping for session %s", ErrDeviceNotFound, s.JID, s.ID), nil
		}
		match = d
	}
	if match == nil {
		return e.container.NewDevice(), fmt.Errorf("%w: no device of %s", ErrDeviceNotFound, s.JID), nil
	}
	if err := e.tables.putSession(ctx, s.ID, match.ID.String()); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", waqtor.ErrDatabase, err)
	}
	return match, nil, nil
}

// isCorrupt tells a device row that cannot be decoded from a database failure.
func isCorrupt(err error) bool {
	return errors.Is(err, sqlstore.ErrInvalidLength) || strings.Contains(err.Error(), "Scan error")
}

// PairedSessions lists the sessions that have a paired device in the store, so
// a host can resume them on start.
func (e *Engine) PairedSessions(ctx context.Context) ([]string, error) {
	return e.tables.pairedSessions(ctx)
}

// DownloadMedia downloads and decrypts inbound media from its Media.Ref. The
// session must be ready: WhatsApp's media hosts are found through the
// connection.
func (e *Engine) DownloadMedia(ctx context.Context, session string, m *waqtor.Media) ([]byte, error) {
	e.mu.Lock()
	c := e.conns[session]
	e.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%w: session %s is not open", waqtor.ErrNotReady, session)
	}
	return c.download(ctx, m)
}

// Close closes every open connection and the engine's database pool.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	conns := make([]*conn, 0, len(e.conns))
	for _, c := range e.conns {
		if c != nil {
			conns = append(conns, c)
		}
	}
	e.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.Close(ctx))
	}
	if e.ownsDB {
		errs = append(errs, e.db.Close())
	}
	return errors.Join(errs...)
}

// forget drops a closed connection from the registry.
func (e *Engine) forget(c *conn) {
	e.mu.Lock()
	if e.conns[c.sess.ID] == c {
		delete(e.conns, c.sess.ID)
	}
	e.mu.Unlock()
}

// libsignal sets up its logger lazily without synchronisation, so the first
// signatures made concurrently (devices created for several sessions at once)
// race. warmLibsignal makes one signature first, once per process.
var warmSignal sync.Once

func warmLibsignal() {
	warmSignal.Do(func() { _ = keys.NewKeyPair().CreateSignedPreKey(1) })
}
