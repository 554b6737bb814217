package webhook

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/waqtor/waqtor/internal/store"
)

// resealResult counts what resealSecrets did.
type resealResult struct {
	// endpoints whose stored secrets or headers were rewritten.
	resealed int
	// endpoints with a value no configured key opens, left as stored.
	unreadable int
}

// resealSecrets brings every endpoint's stored secret, previous secret and
// custom headers under Config.EncryptionKey: values stored in plaintext
// (written before a key was configured) and values sealed with one of
// Config.OldEncryptionKeys are sealed with the current key. It runs in one
// transaction, is idempotent (values already sealed with the current key are
// left alone) and does nothing without a key. Values no configured key opens
// are left as stored and counted. Each row is rewritten only if it still
// holds what was read, so a concurrent change by another process wins.
func (s *Service) resealSecrets(ctx context.Context) (resealResult, error) {
	var res resealResult
	if s.sealer.aead == nil {
		return res, nil
	}
	type row struct{ id, secret, old, headers string }
	lock := ""
	if s.db.dialect == store.DialectPostgres {
		lock = " FOR UPDATE"
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		res = resealResult{}
		rows, err := tx.QueryContext(ctx, `SELECT id, secret, old_secret, headers FROM waqtor_webhook_endpoints ORDER BY id`+lock)
		if err != nil {
			return err
		}
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.secret, &r.old, &r.headers); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range all {
			changed, unreadable := false, false
			next := r
			for _, f := range []struct {
				v   *string
				aad string
			}{{&next.secret, aadSecret}, {&next.old, aadSecret}, {&next.headers, aadHeaders}} {
				sealed, ok, err := s.sealer.resealed(*f.v, f.aad)
				switch {
				case err != nil:
					unreadable = true
				case ok:
					*f.v, changed = sealed, true
				}
			}
			if unreadable {
				res.unreadable++
				s.logger.WarnContext(ctx, "Webhook endpoint has a secret or headers no configured key opens; left as stored",
					slog.String("endpoint_id", r.id))
			}
			if !changed {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE waqtor_webhook_endpoints SET secret = $1, old_secret = $2, headers = $3
				WHERE id = $4 AND secret = $5 AND old_secret = $6 AND headers = $7`,
				next.secret, next.old, next.headers, r.id, r.secret, r.old, r.headers); err != nil {
				return err
			}
			res.resealed++
		}
		return nil
	})
	if err != nil {
		return resealResult{}, dbErr(err)
	}
	if res.resealed > 0 || res.unreadable > 0 {
		s.logger.InfoContext(ctx, "Webhook secrets and headers encrypted with the current key",
			slog.Int("endpoints", res.resealed), slog.Int("unreadable", res.unreadable))
	}
	return res, nil
}
