package walog_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/walog"
)

type countingStringer struct{ n *int }

func (c countingStringer) String() string { *c.n++; return "x" }

func TestAdapter(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T, level slog.Level, opts *walog.Options) (*bytes.Buffer, interface {
		Debugf(string, ...any)
		Errorf(string, ...any)
		Infof(string, ...any)
		Warnf(string, ...any)
	}) {
		t.Helper()
		var buf bytes.Buffer
		h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})
		return &buf, walog.New(slog.New(h), opts)
	}

	t.Run("LevelsAndFormatting", func(t *testing.T) {
		t.Parallel()
		buf, l := setup(t, slog.LevelDebug, nil)
		l.Debugf("d %d", 1)
		l.Infof("i %s", "two")
		l.Warnf("w")
		l.Errorf("e %v", 3)
		require.Equal(t, strings.Join([]string{
			`level=DEBUG msg="d 1" module=whatsmeow`,
			`level=DEBUG msg="i two" module=whatsmeow`,
			`level=WARN msg=w module=whatsmeow`,
			`level=ERROR msg="e 3" module=whatsmeow`,
		}, "\n")+"\n", buf.String())
	})

	t.Run("InfoNoiseHiddenAtInfo", func(t *testing.T) {
		t.Parallel()
		buf, l := setup(t, slog.LevelInfo, nil)
		n := 0
		l.Infof("noise %s", countingStringer{&n})
		l.Debugf("noise %s", countingStringer{&n})
		l.Warnf("kept")
		require.Equal(t, "level=WARN msg=kept module=whatsmeow\n", buf.String())
		require.Zero(t, n, "disabled levels must not format their arguments")
	})

	t.Run("InfoLevelOption", func(t *testing.T) {
		t.Parallel()
		info := slog.LevelInfo
		buf, l := setup(t, slog.LevelInfo, &walog.Options{InfoLevel: &info, Module: "wa"})
		l.Infof("shown")
		require.Equal(t, "level=INFO msg=shown module=wa\n", buf.String())
	})

	t.Run("SubBuildsModulePath", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		l := walog.New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})), nil)
		l.Sub("Client").Sub("Socket").Warnf("closed")
		l.Warnf("root")
		require.Equal(t, "level=WARN msg=closed module=whatsmeow/Client/Socket\nlevel=WARN msg=root module=whatsmeow\n", buf.String())
	})

	t.Run("NilLoggerUsesDefault", func(t *testing.T) {
		t.Parallel()
		require.NotNil(t, walog.New(nil, nil))
	})
}
