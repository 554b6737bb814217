// Package corelink gives the feature packages of this module (webhook, plugins,
// transport, ...) what they need from a *waqtor.Core that the root package does
// not promise to users: its store, and appending events to the log. The root
// package registers the functions in its init; users cannot import this package.
package corelink

import (
	"context"
	"database/sql"

	"github.com/waqtor/waqtor/internal/store"
)

// Link is what the root package provides.
type Link struct {
	// Store returns the Core's store.
	Store func(core any) *store.Store
	// EmitTx appends events (values of the root's Event types) to the log inside
	// tx, stamping their IDs and times; publish, called after tx commits, hands
	// them to the bus and wakes log readers.
	EmitTx func(ctx context.Context, core any, tx *sql.Tx, session, tenant string, events ...any) (publish func(), err error)
}

var link Link

// Register is called once by the root package.
func Register(l Link) { link = l }

// Store returns the Core's store.
func Store(core any) *store.Store { return link.Store(core) }

// EmitTx appends events to the Core's log inside tx; call publish after commit.
func EmitTx(ctx context.Context, core any, tx *sql.Tx, session, tenant string, events ...any) (func(), error) {
	return link.EmitTx(ctx, core, tx, session, tenant, events...)
}

// Emit appends events to the Core's log in a transaction of their own and
// publishes them.
func Emit(ctx context.Context, core any, session, tenant string, events ...any) error {
	var publish func()
	err := Store(core).InTx(ctx, func(tx *sql.Tx) error {
		var err error
		publish, err = EmitTx(ctx, core, tx, session, tenant, events...)
		return err
	})
	if err != nil {
		return err
	}
	publish()
	return nil
}
