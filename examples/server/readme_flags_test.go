package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeFlagTable keeps README's "Configuration of the example server"
// table in sync with the flags: every flag has a row naming its variable,
// and every row a flag.
func TestReadmeFlagTable(t *testing.T) {
	t.Parallel()
	var usage bytes.Buffer
	_, err := parseOptions([]string{"-help"}, noEnv, &usage)
	require.True(t, errors.Is(err, flag.ErrHelp), "%v", err)
	flags := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)\b[^\n]*\n(?:\t[^\n]*\n)*?[^\n]*\(env (WAQTOR_[A-Z0-9_]+)\)`).
		FindAllStringSubmatch(usage.String(), -1) {
		flags[m[1]] = m[2]
	}
	require.NotEmpty(t, flags)
	// -plugin repeats, and names its variable in its own words.
	require.Regexp(t, `(?s)  -plugin .*WAQTOR_PLUGINS`, usage.String())
	flags["plugin"] = "WAQTOR_PLUGINS"
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `-([a-z0-9-]+)` \\| `(WAQTOR_[A-Z0-9_]+)`").FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = m[2]
	}
	require.Equal(t, flags, rows, "README's flag table and the server's flags differ")
}
