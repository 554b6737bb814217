package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFlags(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-help"}, noEnv, &out, &errOut)
	require.True(t, errors.Is(err, flag.ErrHelp), "got %v", err)
	require.Contains(t, errOut.String(), "-key")

	err = run(context.Background(), nil, noEnv, &out, &errOut)
	require.ErrorContains(t, err, "-key is required")

	// The environment supplies the key; an unreachable server is an error, not a hang.
	env := map[string]string{"WAQTOR_API_KEY": "wqt_x", "WAQTOR_URL": "http://127.0.0.1:1"}
	err = run(context.Background(), nil, func(k string) string { return env[k] }, &out, &errOut)
	require.ErrorContains(t, err, "open the event stream")
	require.Empty(t, out.String())
}
