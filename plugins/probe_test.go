package plugins_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/slogtest"
	"github.com/waqtor/waqtor/plugins"
)

// TestProbe: Probe returns the Info a plugin declares, and fails like a
// start on a missing binary or a wrong checksum.
func TestProbe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := fastPlugin(t, "")
	info, err := plugins.Probe(ctx, &cfg, slogtest.New(t))
	require.NoError(t, err)
	require.Equal(t, "test", info.Name)
	require.Equal(t, "0.0.1", info.Version)

	missing := plugins.PluginConfig{Path: filepath.Join(t.TempDir(), "nope")}
	_, err = plugins.Probe(ctx, &missing, nil)
	require.ErrorIs(t, err, plugins.ErrBinaryNotFound)
	var se *plugins.StartError
	require.ErrorAs(t, err, &se)

	wrong := fastPlugin(t, "x")
	wrong.SHA256 = "00000000000000000000000000000000000000000000000000000000000000ff"
	_, err = plugins.Probe(ctx, &wrong, slogtest.New(t))
	require.Error(t, err)
	_, err = plugins.Probe(ctx, nil, nil)
	require.ErrorIs(t, err, plugins.ErrConfig)
}
