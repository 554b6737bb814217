package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Prepare prepares queries once on the pool, so that the Querier of Q runs
// them without parsing them again. It matters on SQLite, where parsing and
// planning is a large share of a small statement's cost and modernc.org/sqlite
// keeps no statement cache; on PostgreSQL pgx caches prepared statements by
// their text already, and Prepare does nothing. Call it outside transactions:
// on SQLite the pool's one connection is a transaction's.
func (s *Store) Prepare(ctx context.Context, queries ...string) error {
	if s.Dialect != DialectSQLite {
		return nil
	}
	for _, q := range queries {
		if _, ok := s.stmts.Load(q); ok {
			continue
		}
		st, err := s.DB.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		if _, loaded := s.stmts.LoadOrStore(q, st); loaded {
			_ = st.Close()
		}
	}
	return nil
}

// Q returns a Querier on tx (or on the pool when tx is nil) that runs the
// queries given to Prepare as prepared statements, and others as they are.
func (s *Store) Q(tx *sql.Tx) Querier {
	if s.Dialect != DialectSQLite {
		if tx == nil {
			return s.DB
		}
		return tx
	}
	return preparedQuerier{s: s, tx: tx}
}

type preparedQuerier struct {
	s  *Store
	tx *sql.Tx
}

func (p preparedQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	v, ok := p.s.stmts.Load(query)
	if !ok {
		return nil
	}
	st := v.(*sql.Stmt)
	if p.tx != nil {
		return p.tx.StmtContext(ctx, st)
	}
	return st
}

func (p preparedQuerier) querier() Querier {
	if p.tx != nil {
		return p.tx
	}
	return p.s.DB
}

func (p preparedQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.querier().ExecContext(ctx, query, args...)
}

func (p preparedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.querier().QueryContext(ctx, query, args...)
}

func (p preparedQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.querier().QueryRowContext(ctx, query, args...)
}

// closeStmts closes the prepared statements.
func (s *Store) closeStmts() {
	s.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
}
