// Package walog adapts log/slog to whatsmeow's printf-style logger interface
// (waLog.Logger), so that whatsmeow logs through the host's slog handler.
//
// whatsmeow is chatty: it logs every decrypted message, prekey upload and reconnect
// at info level. The adapter therefore demotes whatsmeow's Infof to slog's Debug by
// default, so its noise stays at debug while warnings and errors keep their level.
// Sub(m) becomes a "module" attribute whose value is the module path
// ("Client/Socket"), as whatsmeow's own stdout logger prints it.
//
// The package is internal: its API is not promised to stay stable.
package walog

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// Options tunes the level mapping. The zero value is the default mapping.
type Options struct {
	// InfoLevel is the slog level whatsmeow's Infof logs at. Defaults to slog.LevelDebug.
	InfoLevel *slog.Level
	// Module is the root module name. Defaults to "whatsmeow".
	Module string
}

// New returns a waLog.Logger that writes to l (slog.Default() when nil).
func New(l *slog.Logger, opts *Options) waLog.Logger {
	if l == nil {
		l = slog.Default()
	}
	a := &adapter{base: l, info: slog.LevelDebug, module: "whatsmeow"}
	if opts != nil {
		if opts.InfoLevel != nil {
			a.info = *opts.InfoLevel
		}
		if opts.Module != "" {
			a.module = opts.Module
		}
	}
	a.l = l.With(slog.String("module", a.module))
	return a
}

type adapter struct {
	base   *slog.Logger // without the module attribute
	l      *slog.Logger // with it
	info   slog.Level
	module string
}

func (a *adapter) Debugf(msg string, args ...any) { a.log(slog.LevelDebug, msg, args) }
func (a *adapter) Errorf(msg string, args ...any) { a.log(slog.LevelError, msg, args) }
func (a *adapter) Infof(msg string, args ...any)  { a.log(a.info, msg, args) }
func (a *adapter) Warnf(msg string, args ...any)  { a.log(slog.LevelWarn, msg, args) }

// Sub returns a logger for a sub-module, with the module path extended by "/m".
func (a *adapter) Sub(m string) waLog.Logger {
	module := a.module + "/" + m
	return &adapter{base: a.base, l: a.base.With(slog.String("module", module)), info: a.info, module: module}
}

func (a *adapter) log(level slog.Level, msg string, args []any) {
	ctx := context.Background() // whatsmeow's logger interface carries no context
	if !a.l.Enabled(ctx, level) {
		return // skip the Sprintf: whatsmeow logs whole XML nodes at debug
	}
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	a.l.Log(ctx, level, msg)
}
