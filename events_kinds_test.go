package waqtor_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

// TestAllKindsListsEveryKind keeps AllKinds the one list of known event
// kinds: every EventKind constant this package declares must be in it, and
// it stays sorted. Webhook filters (webhook.KnownKinds), WebSocket topics
// and plugin subscriptions all accept exactly AllKinds, so a kind added to
// the package and to this list is accepted everywhere at once, and a kind
// declared but left out fails here rather than being refused by them.
func TestAllKindsListsEveryKind(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var declared []waqtor.EventKind
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventKind" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						declared = append(declared, waqtor.EventKind(s))
					}
				}
			}
		}
	}
	require.NotEmpty(t, declared)
	all := waqtor.AllKinds()
	for _, k := range declared {
		require.Contains(t, all, k, "%s is declared but not in AllKinds: filters and topics would refuse it", k)
	}
	require.True(t, slices.IsSorted(all), "AllKinds is documented as sorted: %v", all)
	require.Len(t, slices.Compact(slices.Clone(all)), len(all), "AllKinds lists a kind twice")
}
