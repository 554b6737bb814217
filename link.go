package waqtor

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/waqtor/waqtor/internal/corelink"
	"github.com/waqtor/waqtor/internal/store"
)

func init() {
	corelink.Register(corelink.Link{
		Store: func(core any) *store.Store { return core.(*Core).store },
		EmitTx: func(ctx context.Context, core any, tx *sql.Tx, session, tenant string, events ...any) (func(), error) {
			c := core.(*Core)
			em := &emitter{c: c}
			for _, v := range events {
				e, ok := v.(Event)
				if !ok {
					return nil, fmt.Errorf("waqtor: %T is not an Event", v)
				}
				em.emit(session, tenant, e)
			}
			if err := c.appendEmitted(ctx, tx, em); err != nil {
				return nil, err
			}
			return func() { c.publishEmitted(em) }, nil
		},
	})
}
