package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

// generated runs the same calls on a network with seed and returns every value
// the network generated.
func generated(t *testing.T, seed int64) []string {
	t.Helper()
	cfg := fastConfig()
	cfg.Seed = seed
	cfg.QRCodes = 2
	b := setup(t, cfg, "")
	ctx := t.Context()
	require.NoError(t, b.conn.Connect(ctx))
	qr := b.h.waitQRs(t, 1)[0].code
	code, err := b.conn.PairPhone(ctx, botNumber)
	require.NoError(t, err)
	alice := b.n.Phone("+201001234567")
	id1, err := alice.SendText(ctx, "+201002222222", "one")
	require.NoError(t, err)
	id2, err := alice.SendText(ctx, "+201002222222", "two")
	require.NoError(t, err)
	gid, err := b.n.CreateGroup("g", alice.Number())
	require.NoError(t, err)
	return []string{qr, code, alice.LID(), b.n.Phone("+201002222222").LID(), id1, id2, gid, autoPairNumber(seed, "s1")}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	a, b, c := generated(t, 42), generated(t, 42), generated(t, 43)
	require.Equal(t, a, b, "the same seed gives the same values")
	for i := range a {
		require.NotEqual(t, a[i], c[i], "value %d: another seed gives other values", i)
	}
	require.NotEqual(t, a[4], a[5])
}

func TestIDShapes(t *testing.T) {
	t.Parallel()
	r := stream(7, "test", "")
	require.Regexp(t, `^3EB0[0-9A-F]{16}$`, newMessageID(r))
	require.Regexp(t, `^120363\d{12}@g\.us$`, newGroupJID(r))
	gid, err := waqtor.NormalizeChat(newGroupJID(r))
	require.NoError(t, err)
	require.True(t, waqtor.IsGroupJID(gid))
	lid := lidFor(7, "+201001234567")
	norm, err := waqtor.NormalizeChat(lid)
	require.NoError(t, err)
	require.Equal(t, lid, norm)
	require.Regexp(t, `^\+1555\d{7}$`, autoPairNumber(7, "s1"))
	_, err = waqtor.ParsePhone(autoPairNumber(7, "s1"))
	require.NoError(t, err)
	qr := newQRCode(r)
	require.Len(t, strings.Split(qr, ","), 4)
}

func FuzzDecodeMediaRef(f *testing.F) {
	for _, seed := range []string{`{"sandbox_media":"m1"}`, `{}`, `null`, `"m1"`, `{"sandbox_media":""}`, ``, `{"sandbox_media":1}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := decodeMediaRef(json.RawMessage(raw))
		if err != nil {
			require.ErrorIs(t, err, ErrMediaNotFound)
			return
		}
		require.NotEmpty(t, id)
		ref, err := json.Marshal(mediaRef{ID: id})
		require.NoError(t, err)
		again, err := decodeMediaRef(ref)
		require.NoError(t, err)
		require.Equal(t, id, again)
	})
}

func FuzzPairingCode(f *testing.F) {
	for _, seed := range []string{"ABCD-EFGH", "abcd efgh", "", "----", "ÄBCD-EFGH", "12345678"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm := normalizePairingCode(s)
		require.Equal(t, norm, normalizePairingCode(norm), "normalising is idempotent")
		require.NotContains(t, norm, "-")
		if utf8.ValidString(s) {
			require.Equal(t, strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s)), strings.ToUpper(norm))
		}
		require.LessOrEqual(t, len(norm), len(s))
		if len(norm) == 8 {
			require.Equal(t, norm, normalizePairingCode(formatPairingCode(norm)))
		}
	})
}

func TestEnterPairingCodeInputs(t *testing.T) {
	t.Parallel()
	n := NewTestNetwork(t, fastConfig())
	for _, in := range []string{"", "-", "ZZZZ-ZZZZ", strings.Repeat("A", 1000), "\x00\xff"} {
		require.ErrorIs(t, n.EnterPairingCode(t.Context(), in), ErrUnknownCode, "%q", in)
	}
}

// TestDefaultSeedPerRun: with the default seed, two networks (a restart) keep
// the same identities but never repeat a phone's message IDs; an explicit
// seed repeats them.
func TestDefaultSeedPerRun(t *testing.T) {
	t.Parallel()
	run := func(seed int64) (lid, id string, n *Network) {
		cfg := fastConfig()
		cfg.Seed = seed
		n = NewTestNetwork(t, cfg)
		p := n.Phone("+201001234567")
		id, err := p.SendText(t.Context(), "+201002222222", "hi")
		require.NoError(t, err)
		return p.LID(), id, n
	}
	lid1, id1, n1 := run(0)
	lid2, id2, n2 := run(0)
	require.Equal(t, lid1, lid2, "identities stay")
	require.NotEqual(t, id1, id2, "message IDs differ across runs")
	require.NotZero(t, n1.RunSeed())
	require.NotEqual(t, n1.RunSeed(), n2.RunSeed())
	_, id3, n3 := run(5)
	_, id4, _ := run(5)
	require.Equal(t, id3, id4, "an explicit seed is deterministic")
	require.Equal(t, int64(5), n3.RunSeed())
}
