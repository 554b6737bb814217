package waqtor_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeSnippetCompiles keeps the README's "Embed it" snippet identical to
// the body of Example_embed, which the compiler and the example's output check.
func TestReadmeSnippetCompiles(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	example, err := os.ReadFile("example_test.go")
	require.NoError(t, err)

	block := between(t, string(readme), "<!-- embed:start", "<!-- embed:end -->")
	block = between(t, block, "```go\n", "```")

	code := between(t, string(example), "// README:embed:start\n", "\t// README:embed:end")
	var lines []string
	for _, l := range strings.Split(code, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	require.Equal(t, strings.Join(lines, "\n"), block, "README.md's snippet drifted from Example_embed")
	require.Contains(t, string(readme), "go run ./examples/server")
	require.Contains(t, string(readme), "go test ./...")
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	require.GreaterOrEqual(t, i, 0, "missing %q", start)
	s = s[i+len(start):]
	if nl := strings.Index(start, "\n"); nl < 0 {
		s = s[strings.Index(s, "\n")+1:]
	}
	j := strings.Index(s, end)
	require.GreaterOrEqual(t, j, 0, "missing %q", end)
	return s[:j]
}
