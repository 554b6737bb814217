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

// slug makes a plugin instance name of s, or "" when nothing is left.
func slug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-_")
	if len(s) > 56 {
		s = s[:56]
	}
	return s
}

// pluginNames names each plugin after the name it declares in its Info
// (declared[i], "" when unknown), else after its file ("echo-plugin"), made
// unique ("echo", "echo-2").
func pluginNames(paths, declared []string) []string {
	var out []string
	seen := map[string]int{}
	for i, p := range paths {
		name := slug(declared[i])
		if name == "" {
			name = slug(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)))
		}
		if name == "" {
			name = "plugin"
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		out = append(out, name)
	}
	return out
}

// pluginConfigs asks each plugin its declared name (plugins.Probe starts it
// once and stops it) and names the instances after it: the REST routes are
// /api/plugins/<declared name>. A plugin that fails to answer is named after
// its file; the host reports its failure.
func pluginConfigs(ctx context.Context, paths []string, logger *slog.Logger) []plugins.PluginConfig {
	declared := make([]string, len(paths))
	for i, p := range paths {
		info, err := plugins.Probe(ctx, &plugins.PluginConfig{Path: p}, logger)
		if err != nil {
			logger.WarnContext(ctx, "Plugin did not tell its name; naming it after its file", slog.String("path", p),
				slog.Any("error", err))
			continue
		}
		declared[i] = info.Name
	}
	var out []plugins.PluginConfig
	for i, name := range pluginNames(paths, declared) {
		out = append(out, plugins.PluginConfig{Name: name, Path: paths[i]})
	}
	return out
}

// startPlugins runs the plugins on core and returns their Host (stop it
// before the Core), or nil with no paths.
func startPlugins(ctx context.Context, core *waqtor.Core, paths []string, logger *slog.Logger) (*plugins.Host, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	host, err := plugins.NewHost(core, &plugins.Config{Logger: logger, Plugins: pluginConfigs(ctx, paths, logger)})
	if err != nil {
		return nil, err
	}
	if err := host.Start(ctx); err != nil {
		return nil, err
	}
	return host, nil
}
