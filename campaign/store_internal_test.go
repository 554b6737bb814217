package campaign

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor/internal/dbtest"
	"github.com/waqtor/waqtor/internal/store"
)

// TestMessageRecipientUsesIndex: finding the recipient of a message ID, which
// the follower does for every sent, delivered and read event, is an index
// lookup on both databases, also as a prepared statement's generic plan, not
// a scan of every recipient (which made a campaign quadratic in its size).
func TestMessageRecipientUsesIndex(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := store.Open(ctx, dbtest.DSN(t, kind), nil)
			require.NoError(t, err)
			defer st.Close()
			require.NoError(t, st.MigrateComponent(ctx, "campaign", migrations()))
			_, err = st.DB.ExecContext(ctx, `INSERT INTO waqtor_campaign_recipients (campaign_id, seq, phone, state,
				message_id, updated_at) VALUES ('c', 1, '+15550000001', 'sent', 'ABCDEF0123', 1)`)
			require.NoError(t, err)
			for i := range 11 { // more rows, so that Postgres's planner prefers an index when it may use one
				_, err = st.DB.ExecContext(ctx, `INSERT INTO waqtor_campaign_recipients (campaign_id, seq, phone, state, updated_at)
					SELECT 'c', seq + $1, phone, 'pending', 1 FROM waqtor_campaign_recipients`, int64(1)<<i)
				require.NoError(t, err)
			}
			conn, err := st.DB.Conn(ctx) // on SQLite, the pool's only connection until closed below
			require.NoError(t, err)
			var plan []string
			if kind == dbtest.SQLite {
				rows, err := conn.QueryContext(ctx, `EXPLAIN QUERY PLAN `+qMessageRecipient, "ABCDEF0123")
				require.NoError(t, err)
				for rows.Next() {
					var id, parent, unused int
					var detail string
					require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
					plan = append(plan, detail)
				}
				require.NoError(t, rows.Close())
			} else {
				for _, q := range []string{`ANALYZE waqtor_campaign_recipients`, `SET plan_cache_mode = force_generic_plan`,
					`PREPARE message_recipient(text) AS ` + qMessageRecipient} {
					_, err := conn.ExecContext(ctx, q)
					require.NoError(t, err)
				}
				rows, err := conn.QueryContext(ctx, `EXPLAIN EXECUTE message_recipient('ABCDEF0123')`)
				require.NoError(t, err)
				for rows.Next() {
					var line string
					require.NoError(t, rows.Scan(&line))
					plan = append(plan, line)
				}
				require.NoError(t, rows.Close())
				_, err = conn.ExecContext(ctx, `DEALLOCATE message_recipient`)
				require.NoError(t, err)
				_, err = conn.ExecContext(ctx, `RESET plan_cache_mode`)
				require.NoError(t, err)
			}
			require.NoError(t, conn.Close())
			require.Contains(t, strings.Join(plan, "\n"), "waqtor_campaign_recipients_message", "plan:\n%s", strings.Join(plan, "\n"))

			_, err = st.DB.ExecContext(ctx, `INSERT INTO waqtor_campaigns (id, tenant_id, name, state, sessions, content,
				variables, pacing, time_zone, created_at, updated_at) VALUES ('c', 't', 'n', 'running', '[]', '{}', '{}', '{}', 'UTC', 1, 1)`)
			require.NoError(t, err)
			var id, tenant, session string
			var seq, sentAt int64
			var state RecipientState
			require.NoError(t, st.DB.QueryRowContext(ctx, qMessageRecipient, "ABCDEF0123").Scan(&id, &tenant, &seq, &state, &session, &sentAt))
			require.Equal(t, "c", id)
			require.Equal(t, int64(1), seq)
			err = st.DB.QueryRowContext(ctx, qMessageRecipient, "").Scan(&id, &tenant, &seq, &state, &session, &sentAt)
			require.ErrorIs(t, err, sql.ErrNoRows, "an empty ID is no recipient's")
		})
	}
}
