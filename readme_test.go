package waqtor_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeFile matches a README code block that shows a whole file of the
// repository: the marker names the file, the block must equal it.
var readmeFile = regexp.MustCompile("<!-- file:(\\S+) [^\\n]*-->\\n```go\\n")

// TestReadmeFiles keeps the README's programs identical to the files they
// show, which the compiler, go vet and their tests check ("Embed it" is
// examples/bot/main.go; "Test a bot" is its test).
func TestReadmeFiles(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	require.Contains(t, readme, "go run ./examples/server")
	require.Contains(t, readme, "go test ./...")

	matches := readmeFile.FindAllStringSubmatchIndex(readme, -1)
	require.Len(t, matches, 2, "README shows examples/bot/main.go and main_test.go")
	for _, m := range matches {
		path := readme[m[2]:m[3]]
		rest := readme[m[1]:]
		end := strings.Index(rest, "```\n")
		require.GreaterOrEqual(t, end, 0, "unterminated block for %s", path)
		file, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(file), rest[:end], "README.md's copy of %s drifted", path)
	}
}
