package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins"
)

// pluginPaths is the repeatable -plugin flag.
type pluginPaths []string

func (p *pluginPaths) String() string { return strings.Join(*p, ",") }

func (p *pluginPaths) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty plugin path")
	}
	*p = append(*p, v)
	return nil
}

// addPluginFlag registers -plugin (repeatable); WAQTOR_PLUGINS, a
// comma-separated list, gives the default.
func addPluginFlag(fs *flag.FlagSet, getenv func(string) string) *pluginPaths {
	var paths pluginPaths
	for _, p := range strings.Split(getenv("WAQTOR_PLUGINS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	envDefault := len(paths) > 0
	fs.Func("plugin", "plugin executable to run; repeat for several (env WAQTOR_PLUGINS, comma-separated)", func(v string) error {
		if envDefault { // flags replace the environment's list
			paths, envDefault = nil, false
		}
		return paths.Set(v)
	})
	return &paths
}

var nonSlug = regexp.MustCompile(`[^a-z0-9_-]+`)

// pluginConfigs names each plugin after its file ("echo-plugin"), made unique.
func pluginConfigs(paths []string) []plugins.PluginConfig {
	var out []plugins.PluginConfig
	seen := map[string]int{}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		name = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-_")
		if name == "" {
			name = "plugin"
		}
		if len(name) > 56 {
			name = name[:56]
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		out = append(out, plugins.PluginConfig{Name: name, Path: p})
	}
	return out
}

// startPlugins runs the plugins on core and returns their Host (stop it
// before the Core), or nil with no paths.
func startPlugins(ctx context.Context, core *waqtor.Core, paths []string, logger *slog.Logger) (*plugins.Host, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	host, err := plugins.NewHost(core, &plugins.Config{Logger: logger, Plugins: pluginConfigs(paths)})
	if err != nil {
		return nil, err
	}
	if err := host.Start(ctx); err != nil {
		return nil, err
	}
	return host, nil
}
