package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message directions.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// Message is a row of waqtor_messages.
type Message struct {
	Attempts       int
	Chat           string
	ChatLID        string
	Content        string // JSON
	CreatedAt      time.Time
	Direction      string
	EditedAt       time.Time // zero when never edited
	Error          string
	ID             string
	IdempotencyKey string // "" when none
	PushName       string
	RequestHash    string    // fingerprint of the request IdempotencyKey was used with; "" when none
	RevokedAt      time.Time // zero unless revoked
	Sender         string
	SenderLID      string
	SessionID      string
	Status         string
	TenantID       string
	Time           time.Time
	Type           string
	UpdatedAt      time.Time
}

const messageColumns = `session_id, chat, id, tenant_id, direction, chat_lid, sender, sender_lid, push_name, type,
	content, status, error, idempotency_key, attempts, ts, created_at, updated_at, edited_at, revoked_at, request_hash`

// messageColumnCount is how many columns messageColumns names.
const messageColumnCount = 21

func scanMessage(sc interface{ Scan(...any) error }) (*Message, error) {
	var m Message
	var idem sql.NullString
	var ts, created, updated, edited, revoked int64
	if err := sc.Scan(&m.SessionID, &m.Chat, &m.ID, &m.TenantID, &m.Direction, &m.ChatLID, &m.Sender, &m.SenderLID,
		&m.PushName, &m.Type, &m.Content, &m.Status, &m.Error, &idem, &m.Attempts, &ts, &created, &updated,
		&edited, &revoked, &m.RequestHash); err != nil {
		return nil, err
	}
	m.IdempotencyKey = idem.String
	m.Time, m.CreatedAt, m.UpdatedAt = FromMicros(ts), FromMicros(created), FromMicros(updated)
	m.EditedAt, m.RevokedAt = FromMicros(edited), FromMicros(revoked)
	return &m, nil
}

// InsertMessage inserts a message; ErrDuplicate when (session, chat, id) or
// (session, idempotency key) already exists.
func InsertMessage(ctx context.Context, q Querier, m *Message) error {
	_, err := q.ExecContext(ctx, insertMessageSQL, messageArgs(m, nil)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: message %s/%s", ErrDuplicate, m.SessionID, m.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert message: %w", err)
	}
	return nil
}

const insertMessageSQL = `INSERT INTO waqtor_messages (` + messageColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`

// messageArgs appends m's column values, in messageColumns' order, to args.
func messageArgs(m *Message, args []any) []any {
	var idem any
	if m.IdempotencyKey != "" {
		idem = m.IdempotencyKey
	}
	return append(args, m.SessionID, m.Chat, m.ID, m.TenantID, m.Direction, m.ChatLID, m.Sender, m.SenderLID,
		m.PushName, m.Type, m.Content, m.Status, m.Error, idem, m.Attempts, Micros(m.Time), Micros(m.CreatedAt),
		Micros(m.UpdatedAt), Micros(m.EditedAt), Micros(m.RevokedAt), m.RequestHash)
}

// insertMessagesChunk is how many messages one INSERT of InsertMessages carries.
const insertMessagesChunk = 50

func insertMessagesSQL(d Dialect, rows int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO waqtor_messages (` + messageColumns + `) VALUES `)
	d.Values(&sb, rows, messageColumnCount, 0)
	sb.WriteString(` ON CONFLICT DO NOTHING RETURNING session_id, chat, id`)
	return sb.String()
}

// InsertMessages inserts messages with a few multi-row statements, skipping
// those that already exist (same session, chat and ID, or same session and
// idempotency key), and reports for each whether it was inserted. Of two equal
// messages in ms, only the first can be.
func InsertMessages(ctx context.Context, q Querier, d Dialect, ms []*Message) ([]bool, error) {
	const cols = messageColumnCount
	const chunk = insertMessagesChunk
	type key struct{ session, chat, id string }
	inserted := make([]bool, len(ms))
	for i := 0; i < len(ms); i += chunk {
		part := ms[i:min(i+chunk, len(ms))]
		args := make([]any, 0, cols*len(part))
		first := make(map[key]int, len(part))
		for k, m := range part {
			args = messageArgs(m, args)
			if _, ok := first[key{m.SessionID, m.Chat, m.ID}]; !ok {
				first[key{m.SessionID, m.Chat, m.ID}] = i + k
			}
		}
		rows, err := q.QueryContext(ctx, insertMessagesSQL(d, len(part)), args...)
		if err != nil {
			return nil, fmt.Errorf("store: insert messages: %w", err)
		}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.session, &k.chat, &k.id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: insert messages: %w", err)
			}
			if at, ok := first[k]; ok {
				inserted[at] = true
			}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("store: insert messages: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: insert messages: %w", err)
		}
	}
	return inserted, nil
}

// GetMessage returns the message with this ID in a session (any chat), or ErrNotFound.
func GetMessage(ctx context.Context, q Querier, session, id string) (*Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM waqtor_messages
		WHERE session_id = $1 AND id = $2 ORDER BY direction DESC LIMIT 1`, session, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: message %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get message: %w", err)
	}
	return m, nil
}

// GetChatMessage returns the message with this ID in one chat of a session, or
// ErrNotFound.
func GetChatMessage(ctx context.Context, q Querier, session, chat, id string) (*Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM waqtor_messages
		WHERE session_id = $1 AND chat = $2 AND id = $3`, session, chat, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: message %q in %s", ErrNotFound, id, chat)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get message: %w", err)
	}
	return m, nil
}

// GetMessageByIdempotencyKey returns the message sent with key, or ErrNotFound.
func GetMessageByIdempotencyKey(ctx context.Context, q Querier, session, key string) (*Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM waqtor_messages
		WHERE session_id = $1 AND idempotency_key = $2`, session, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: idempotency key", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get message by key: %w", err)
	}
	return m, nil
}

// UpdateMessageStatus writes m's status, error, attempts, time and updated_at,
// provided the stored status is still from (compare-and-set); ErrNotFound when
// the row is missing or its status moved on.
func UpdateMessageStatus(ctx context.Context, q Querier, m *Message, from string) error {
	res, err := q.ExecContext(ctx, `UPDATE waqtor_messages SET status = $4, error = $5, attempts = $6, ts = $7, updated_at = $8
		WHERE session_id = $1 AND chat = $2 AND id = $3 AND status = $9`,
		m.SessionID, m.Chat, m.ID, m.Status, m.Error, m.Attempts, Micros(m.Time), Micros(m.UpdatedAt), from)
	if err != nil {
		return fmt.Errorf("store: update message: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: message %q", ErrNotFound, m.ID)
	}
	return nil
}

// UpdateMessageAmend writes m's content, type, edited_at, revoked_at and
// updated_at: the effect of an edit or a revocation on the message it targets.
// ErrNotFound when the row is missing.
func UpdateMessageAmend(ctx context.Context, q Querier, m *Message) error {
	res, err := q.ExecContext(ctx, `UPDATE waqtor_messages SET content = $4, type = $5, edited_at = $6, revoked_at = $7, updated_at = $8
		WHERE session_id = $1 AND chat = $2 AND id = $3`,
		m.SessionID, m.Chat, m.ID, m.Content, m.Type, Micros(m.EditedAt), Micros(m.RevokedAt), Micros(m.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: amend message: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: message %q", ErrNotFound, m.ID)
	}
	return nil
}

// ListMessagesByStatus returns up to limit outbound messages of a session in status,
// oldest first, created at or before createdBefore.
func ListMessagesByStatus(ctx context.Context, q Querier, session, status string, createdBefore time.Time, limit int) ([]*Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+messageColumns+` FROM waqtor_messages
		WHERE session_id = $1 AND status = $2 AND direction = 'out' AND created_at <= $3
		ORDER BY created_at, id LIMIT $4`, session, status, Micros(createdBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	return collectMessages(rows)
}

// ListChatMessagesParams filters ListChatMessages.
type ListChatMessagesParams struct {
	Before   time.Time // only messages strictly older than this (zero: no bound)
	BeforeID string    // tie-breaker for messages at exactly Before
	Chat     string
	Limit    int
	Session  string
}

// ListChatMessages returns a chat's messages newest first.
func ListChatMessages(ctx context.Context, q Querier, p ListChatMessagesParams) ([]*Message, error) {
	before := int64(1<<62 - 1)
	if !p.Before.IsZero() {
		before = Micros(p.Before)
	}
	rows, err := q.QueryContext(ctx, `SELECT `+messageColumns+` FROM waqtor_messages
		WHERE session_id = $1 AND chat = $2 AND (ts < $3 OR (ts = $3 AND id < $4))
		ORDER BY ts DESC, id DESC LIMIT $5`, p.Session, p.Chat, before, p.BeforeID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: list chat messages: %w", err)
	}
	return collectMessages(rows)
}

func collectMessages(rows *sql.Rows) ([]*Message, error) {
	defer rows.Close()
	var out []*Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan message: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// PutOutboxMedia stores the bytes of an outbound media message until it is sent.
func PutOutboxMedia(ctx context.Context, q Querier, session, messageID string, data []byte) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO waqtor_outbox_media (session_id, message_id, data) VALUES ($1, $2, $3)`,
		session, messageID, data); err != nil {
		return fmt.Errorf("store: put media: %w", err)
	}
	return nil
}

// GetOutboxMedia returns the stored bytes of an outbound media message.
func GetOutboxMedia(ctx context.Context, q Querier, session, messageID string) ([]byte, error) {
	var b []byte
	err := q.QueryRowContext(ctx, `SELECT data FROM waqtor_outbox_media WHERE session_id = $1 AND message_id = $2`,
		session, messageID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: media of message %q", ErrNotFound, messageID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get media: %w", err)
	}
	return b, nil
}

// DeleteOutboxMedia drops the stored bytes once the message left.
func DeleteOutboxMedia(ctx context.Context, q Querier, session, messageID string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM waqtor_outbox_media WHERE session_id = $1 AND message_id = $2`,
		session, messageID); err != nil {
		return fmt.Errorf("store: delete media: %w", err)
	}
	return nil
}
