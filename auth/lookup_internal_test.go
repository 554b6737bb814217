package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/sandbox"
)

// TestFormatCheckedBeforeLookup (docs/reliability.md T24): a key with a bad prefix,
// length, alphabet or checksum is refused without touching the database. The
// store's database is closed: a well-formed key then fails with the database
// error (it was looked up), the malformed ones with ErrUnauthenticated.
func TestFormatCheckedBeforeLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core, err := waqtor.NewCore(ctx, &waqtor.Config{Database: dbtest.DSN(t, dbtest.SQLite), Engine: sandbox.NewTestNetwork(t, nil).Factory(), Logger: slogtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeyStore(ctx, core, &KeyStoreConfig{CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := ks.Create(ctx, &KeyCreateParams{Scopes: []Scope{ScopeRead}, Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.st.DB.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Stop(context.Background()) })

	if _, err := ks.Authenticate(ctx, secret); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a well-formed key with the database closed: %v, want a database error (the lookup)", err)
	}
	badSum := []byte(secret)
	badSum[len(badSum)-1] ^= 1
	badBody := []byte(secret)
	badBody[20] ^= 1
	for name, key := range map[string]string{
		"Checksum":  string(badSum),
		"Body":      string(badBody),
		"Prefix":    "wqx_" + secret[4:],
		"Short":     secret[:len(secret)-1],
		"Alphabet":  secret[:20] + "-" + secret[21:],
		"Empty":     "",
		"Unrelated": "Bearer nonsense",
	} {
		if _, err := ks.Authenticate(ctx, key); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated before any lookup", name, err)
		}
	}
}
