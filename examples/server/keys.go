package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/auth"
)

// bootstrapName names the keys the server prints at start.
const bootstrapName = "bootstrap admin"

// keysHint tells how to make a key from the command line (a postgres://
// password is not printed).
func keysHint(db string) string {
	return "go run ./examples/server keys create -db " + redactDSN(db)
}

// bootstrapKey gets the first user a working key. With -api-key it stores that
// key. Otherwise, while no API key was ever used and none was made by other
// means, it prints a new admin key on every start and revokes the previous
// bootstrap key (printed, never used, perhaps lost: by an earlier start that
// failed, or in the noise of a QR code); once a key is used it prints none and
// logs how to make one.
func bootstrapKey(ctx context.Context, keys *auth.KeyStore, o *options, out io.Writer, logger *slog.Logger) error {
	admin := &auth.KeyCreateParams{Name: bootstrapName, Scopes: []auth.Scope{auth.ScopeAdmin}, Tenant: waqtor.DefaultTenantDefault}
	if o.apiKey != "" {
		if _, err := auth.ParseKey(o.apiKey); err != nil {
			return fmt.Errorf("-api-key: not a waqtor key (want %s followed by %d characters, for example %s)", auth.KeyPrefix,
				auth.KeyLength-len(auth.KeyPrefix), auth.NewKeySecret())
		}
		_, err := keys.Import(ctx, o.apiKey, admin)
		if errors.Is(err, auth.ErrKeyExists) {
			return nil
		}
		return err
	}
	active, err := keys.List(ctx, nil)
	if err != nil {
		return err
	}
	var unusedBootstrap []*auth.Key
	for _, k := range active {
		if !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(time.Now()) {
			continue
		}
		switch {
		case !k.LastUsedAt.IsZero():
			logger.InfoContext(ctx, "API keys exist and are in use; none printed. To make another: "+keysHint(o.db),
				slog.Int("active_keys", len(active)))
			return nil
		case k.Name == bootstrapName && k.Tenant == waqtor.DefaultTenantDefault:
			unusedBootstrap = append(unusedBootstrap, k)
		default:
			logger.InfoContext(ctx, "An API key was made and is not used yet; none printed. Lost it? "+keysHint(o.db),
				slog.String("key", k.Prefix), slog.String("name", k.Name))
			return nil
		}
	}
	for _, k := range unusedBootstrap {
		if err := keys.Revoke(ctx, k.Tenant, k.ID); err != nil {
			return err
		}
	}
	_, secret, err := keys.Create(ctx, admin)
	if err != nil {
		return err
	}
	replaced := ""
	if len(unusedBootstrap) > 0 {
		replaced = fmt.Sprintf(" It replaces %s…, printed before and never used.", unusedBootstrap[len(unusedBootstrap)-1].Prefix)
	}
	fmt.Fprintf(out, "\nBootstrap admin API key (send it as X-API-Key or Authorization: Bearer; stored only as a digest):\n\n    %s\n\n"+
		"Each start prints a new one until a key has been used.%s Make more with: %s\n\n", secret, replaced, keysHint(o.db))
	return nil
}

// noEngine is the engine of the keys command's Core, which never starts.
func noEngine(context.Context, *waqtor.EngineEnv) (waqtor.Engine, error) { return noEngineT{}, nil }

type noEngineT struct{}

func (noEngineT) Open(context.Context, *waqtor.EngineSession, waqtor.ConnHandler) (waqtor.Conn, error) {
	return nil, errors.New("the keys command opens no session")
}

const keysUsage = `Usage:
  server keys create [-db PATH|URL] [-name NAME] [-scopes admin,read,…] [-tenant default] [-sessions a,b] [-expires 720h]
  server keys list   [-db PATH|URL] [-tenant T] [-all]
  server keys revoke [-db PATH|URL] [-tenant T] ID

Manages API keys in the gateway's database, with the server running or not.
create prints the new key once; only its digest is stored. Send it as
"X-API-Key: wqt_…" or "Authorization: Bearer wqt_…". Scopes: ` + "admin, keys:admin, messages:send, read, sessions:admin, " +
	"webhooks:admin, webhooks:read, plugins:admin, sandbox:control" + `.

`

// runKeys is the keys subcommand.
func runKeys(ctx context.Context, args []string, s *seams) error {
	out := s.stderr
	if len(args) == 0 || args[0] == "-help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(out, keysUsage)
		if len(args) == 0 {
			return errors.New("keys: missing command (create, list or revoke)")
		}
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprint(out, keysUsage); fs.PrintDefaults() }
	def := s.getenv("WAQTOR_DB")
	if def == "" {
		def = "waqtor-data/waqtor.db"
	}
	db := fs.String("db", def, "SQLite path or postgres:// URL (env WAQTOR_DB)")
	var name, scopes, tenant, sessions string
	var expires time.Duration
	var all bool
	switch cmd {
	case "create":
		fs.StringVar(&name, "name", "", "what the key is for (up to 100 characters)")
		fs.StringVar(&scopes, "scopes", "admin", "comma-separated scopes")
		fs.StringVar(&tenant, "tenant", waqtor.DefaultTenantDefault, "tenant that owns the key")
		fs.StringVar(&sessions, "sessions", "", "comma-separated sessions the key is narrowed to (default all of the tenant's)")
		fs.DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default never)")
	case "list":
		fs.StringVar(&tenant, "tenant", "", "only this tenant's keys (default all)")
		fs.BoolVar(&all, "all", false, "include revoked keys")
	case "revoke":
		fs.StringVar(&tenant, "tenant", "", "the key's tenant (default any)")
	default:
		fmt.Fprint(out, keysUsage)
		return fmt.Errorf("keys: unknown command %q (want create, list or revoke)", cmd)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cmd == "revoke" && fs.NArg() != 1 || cmd != "revoke" && fs.NArg() != 0 {
		return fmt.Errorf("keys %s: unexpected arguments %q (see server keys -help)", cmd, fs.Args())
	}
	if expires < 0 {
		return fmt.Errorf("keys create: -expires %s must not be negative", expires)
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: *db, Engine: noEngine, Logger: logger})
	if err != nil {
		return err
	}
	defer func() { _ = core.Stop(context.WithoutCancel(ctx)) }()
	keys, err := auth.NewKeyStore(ctx, core, &auth.KeyStoreConfig{Logger: logger})
	if err != nil {
		return err
	}
	switch cmd {
	case "create":
		p := &auth.KeyCreateParams{Name: name, Tenant: tenant, Sessions: splitList(sessions)}
		for _, sc := range splitList(scopes) {
			p.Scopes = append(p.Scopes, auth.Scope(sc))
		}
		if expires > 0 {
			p.ExpiresAt = time.Now().Add(expires)
		}
		k, secret, err := keys.Create(ctx, p)
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(out, "Created key %s (tenant %s, scopes %s). Its secret, shown only now:\n\n    %s\n\n",
			k.ID, k.Tenant, joinScopes(k.Scopes), secret)
		return nil
	case "list":
		list, err := keys.List(ctx, &auth.KeyListParams{Tenant: tenant, IncludeRevoked: all})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tNAME\tSCOPES\tCREATED\tLAST USED\tSTATE")
		for _, k := range list {
			state := "active"
			switch {
			case !k.RevokedAt.IsZero():
				state = "revoked"
			case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(time.Now()):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Name, joinScopes(k.Scopes),
				k.CreatedAt.Format(time.RFC3339), orNever(k.LastUsedAt), state)
		}
		return tw.Flush()
	default: // revoke
		id := strings.TrimPrefix(fs.Arg(0), auth.KeyPrefix)
		if err := keys.Revoke(ctx, tenant, id); err != nil {
			return fmt.Errorf("keys revoke: %w", err)
		}
		fmt.Fprintf(out, "Revoked key %s.\n", id)
		return nil
	}
}

func joinScopes(s []auth.Scope) string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return strings.Join(out, ",")
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}
