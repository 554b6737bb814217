package rest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/sandbox"
	"github.com/waqtor/waqtor/transport/rest"
	"github.com/waqtor/waqtor/transport/rest/api"
)

func validButtons() map[string]any {
	return map[string]any{"chat": alicePhone, "body": "Pick one", "footer": "small print", "mode": "text",
		"buttons": []map[string]any{{"id": "yes", "text": "Yes"}, {"id": "no", "text": "No"}}}
}

func validList() map[string]any {
	return map[string]any{"chat": alicePhone, "title": "Menu", "body": "What would you like?", "button_text": "Open", "mode": "poll",
		"sections": []map[string]any{
			{"title": "Drinks", "rows": []map[string]any{{"id": "tea", "title": "Tea", "description": "hot"}, {"id": "coffee", "title": "Coffee"}}},
			{"title": "Food", "rows": []map[string]any{{"id": "cake", "title": "Cake"}}},
		}}
}

// TestSendInteractive: send-button and send-list (nested and flat) reach the
// sandbox phone as Buttons and List content, and an Idempotency-Key makes a
// retry return the first message without sending again.
func TestSendInteractive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice := b.net.Phone(alicePhone)

	for name, path := range map[string]string{"Nested": "/sessions/default/messages/send-button", "Flat": "/messages/send-button"} {
		body := validButtons()
		body["body"] = "Pick one (" + name + ")"
		res := b.do(t, b.keyA, "POST", path, body, "Idempotency-Key", "buttons-"+name)
		require.Equal(t, 200, res.status, "%s", res.body)
		var m api.Message
		res.json(t, &m)
		require.Equal(t, "buttons", m.ContentType())
		require.Contains(t, []string{"sent", "delivered", "read"}, m.Status)
		got, err := alice.WaitFor(ctx, func(r sandbox.Received) bool { return r.ID == m.ID })
		require.NoError(t, err)
		btns, ok := got.Content.(*waqtor.Buttons)
		require.True(t, ok, "%T", got.Content)
		require.Equal(t, body["body"], btns.Body)
		require.Equal(t, waqtor.InteractiveText, btns.Mode)
		require.Equal(t, []waqtor.Button{{ID: "yes", Text: "Yes"}, {ID: "no", Text: "No"}}, btns.Buttons)

		again := b.do(t, b.keyA, "POST", path, body, "Idempotency-Key", "buttons-"+name)
		require.Equal(t, 200, again.status, "%s", again.body)
		var m2 api.Message
		again.json(t, &m2)
		require.Equal(t, m.ID, m2.ID)
	}

	for name, path := range map[string]string{"Nested": "/sessions/default/messages/send-list", "Flat": "/messages/send-list"} {
		body := validList()
		body["body"] = "Choose (" + name + ")"
		res := b.do(t, b.keyA, "POST", path, body, "Idempotency-Key", "list-"+name)
		require.Equal(t, 200, res.status, "%s", res.body)
		var m api.Message
		res.json(t, &m)
		require.Equal(t, "list", m.ContentType())
		got, err := alice.WaitFor(ctx, func(r sandbox.Received) bool { return r.ID == m.ID })
		require.NoError(t, err)
		l, ok := got.Content.(*waqtor.List)
		require.True(t, ok, "%T", got.Content)
		require.Equal(t, "Open", l.ButtonText)
		require.Equal(t, waqtor.InteractivePoll, l.Mode)
		require.Len(t, l.Rows(), 3)
		require.Equal(t, waqtor.ListRow{ID: "tea", Title: "Tea", Description: "hot"}, l.Rows()[0])

		again := b.do(t, b.keyA, "POST", path, body, "Idempotency-Key", "list-"+name)
		var m2 api.Message
		again.json(t, &m2)
		require.Equal(t, m.ID, m2.ID)
	}

	// Each message reached the phone once, retries included.
	count := map[string]int{}
	for _, r := range alice.Received() {
		count[r.ID]++
	}
	require.Len(t, count, 4)
	for id, n := range count {
		require.Equal(t, 1, n, id)
	}
}

// TestSendInteractiveBadInput: every invalid field is refused with a problem
// naming it, and nothing is stored, sent or emitted.
func TestSendInteractiveBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.session(t, "default", "default", sessionPhone)
	ctx := context.Background()
	seq, err := b.core.LastSeq(ctx)
	require.NoError(t, err)
	sends := len(b.net.SendLog())

	type tc struct {
		op     string // "button" or "list"
		mutate func(m map[string]any)
		raw    string // a raw body instead of a mutated valid one
		status int
		typ    string
		field  string
	}
	buttons := func(m map[string]any) []map[string]any { return m["buttons"].([]map[string]any) }
	rows := func(m map[string]any, i int) []map[string]any {
		return m["sections"].([]map[string]any)[i]["rows"].([]map[string]any)
	}
	cases := map[string]tc{
		"ButtonMissingChat": {op: "button", mutate: func(m map[string]any) { delete(m, "chat") }, field: "chat"},
		"ButtonBadChat":     {op: "button", mutate: func(m map[string]any) { m["chat"] = "not a number" }, field: "chat"},
		"ButtonMissingBody": {op: "button", mutate: func(m map[string]any) { m["body"] = "  " }, field: "body"},
		"ButtonLongFooter":  {op: "button", mutate: func(m map[string]any) { m["footer"] = strings.Repeat("f", 1025) }, field: "footer"},
		"ButtonNoButtons":   {op: "button", mutate: func(m map[string]any) { m["buttons"] = []map[string]any{} }, field: "buttons"},
		"ButtonTooManyButtons": {op: "button", mutate: func(m map[string]any) {
			m["buttons"] = append(buttons(m), map[string]any{"id": "a", "text": "A"}, map[string]any{"id": "b", "text": "B"})
		}, field: "buttons"},
		"ButtonEmptyID":          {op: "button", mutate: func(m map[string]any) { buttons(m)[0]["id"] = "" }, field: "buttons[0].id"},
		"ButtonDuplicateID":      {op: "button", mutate: func(m map[string]any) { buttons(m)[1]["id"] = "yes" }, field: "buttons[1].id"},
		"ButtonEmptyText":        {op: "button", mutate: func(m map[string]any) { delete(buttons(m)[0], "text") }, field: "buttons[0].text"},
		"ButtonLongText":         {op: "button", mutate: func(m map[string]any) { buttons(m)[0]["text"] = strings.Repeat("x", 21) }, field: "buttons[0].text"},
		"ButtonDuplicateText":    {op: "button", mutate: func(m map[string]any) { buttons(m)[1]["text"] = "YES" }, field: "buttons[1].text"},
		"ButtonBadMode":          {op: "button", mutate: func(m map[string]any) { m["mode"] = "carousel" }, field: "mode"},
		"ButtonUnknownField":     {op: "button", mutate: func(m map[string]any) { m["colour"] = "red" }, status: 400, typ: rest.TypeBadRequest, field: "colour"},
		"ButtonUnknownNested":    {op: "button", mutate: func(m map[string]any) { buttons(m)[0]["url"] = "x" }, status: 400, typ: rest.TypeBadRequest, field: "url"},
		"ButtonWrongType":        {op: "button", mutate: func(m map[string]any) { m["buttons"] = "yes,no" }, status: 400, typ: rest.TypeBadRequest, field: "buttons"},
		"ButtonMalformed":        {op: "button", raw: `{"chat":`, status: 400, typ: rest.TypeBadRequest},
		"ButtonOversized":        {op: "button", mutate: func(m map[string]any) { m["body"] = strings.Repeat("x", 2<<20) }, status: 413, typ: rest.TypeBodyTooLarge},
		"ListMissingButtonText":  {op: "list", mutate: func(m map[string]any) { delete(m, "button_text") }, field: "button_text"},
		"ListMissingBody":        {op: "list", mutate: func(m map[string]any) { m["body"] = "" }, field: "body"},
		"ListNoSections":         {op: "list", mutate: func(m map[string]any) { m["sections"] = []map[string]any{} }, field: "sections"},
		"ListEmptySection":       {op: "list", mutate: func(m map[string]any) { m["sections"].([]map[string]any)[1]["rows"] = []map[string]any{} }, field: "sections[1].rows"},
		"ListDuplicateRowID":     {op: "list", mutate: func(m map[string]any) { rows(m, 1)[0]["id"] = "tea" }, field: "sections[1].rows[0].id"},
		"ListDuplicateRowTitle":  {op: "list", mutate: func(m map[string]any) { rows(m, 1)[0]["title"] = "tea" }, field: "sections[1].rows[0].title"},
		"ListLongRowTitle":       {op: "list", mutate: func(m map[string]any) { rows(m, 0)[1]["title"] = strings.Repeat("t", 25) }, field: "sections[0].rows[1].title"},
		"ListLongDescription":    {op: "list", mutate: func(m map[string]any) { rows(m, 0)[0]["description"] = strings.Repeat("d", 1025) }, field: "sections[0].rows[0].description"},
		"ListTooManyRows":        {op: "list", mutate: func(m map[string]any) { addRows(m, 8) }, field: "sections[2].rows[7]"},
		"ListBadMode":            {op: "list", mutate: func(m map[string]any) { m["mode"] = "buttons" }, field: "mode"},
		"ListUnknownField":       {op: "list", mutate: func(m map[string]any) { m["header"] = "x" }, status: 400, typ: rest.TypeBadRequest, field: "header"},
		"ListWrongType":          {op: "list", mutate: func(m map[string]any) { rows(m, 0)[0]["id"] = 7 }, status: 400, typ: rest.TypeBadRequest, field: "sections.rows.id"},
		"ListNull":               {op: "list", raw: `null`, status: 400, typ: rest.TypeBadRequest, field: "(body)"},
		"ListTrailingData":       {op: "list", raw: `{} {}`, status: 400, typ: rest.TypeBadRequest},
		"ListMissingRowID":       {op: "list", mutate: func(m map[string]any) { delete(rows(m, 0)[0], "id") }, field: "sections[0].rows[0].id"},
		"ListLongButtonText":     {op: "list", mutate: func(m map[string]any) { m["button_text"] = strings.Repeat("b", 21) }, field: "button_text"},
		"ListSectionTitleTooBig": {op: "list", mutate: func(m map[string]any) { m["sections"].([]map[string]any)[0]["title"] = strings.Repeat("s", 1025) }, field: "sections[0].title"},
	}
	for name, c := range cases {
		for _, path := range []string{"/sessions/default/messages/send-" + c.op, "/messages/send-" + c.op} {
			t.Run(name+path, func(t *testing.T) {
				var body any = c.raw
				if c.raw == "" {
					m := validButtons()
					if c.op == "list" {
						m = validList()
					}
					c.mutate(m)
					body = m
				}
				res := b.do(t, b.keyA, "POST", path, body, "Idempotency-Key", "bad-"+name)
				status, typ := c.status, c.typ
				if status == 0 {
					status, typ = 422, rest.TypeValidation
				}
				require.Equal(t, status, res.status, "%s", res.body)
				p := res.problem(t)
				require.Equal(t, typ, p.Type)
				if c.field != "" {
					require.NotEmpty(t, p.Errors, "%s", res.body)
					require.Equal(t, c.field, p.Errors[0].Field, "%s", res.body)
				}
			})
		}
	}
	// Unknown and foreign sessions: 404, like every session route.
	res := b.do(t, b.keyA, "POST", "/sessions/nope/messages/send-button", validButtons())
	require.Equal(t, 404, res.status, "%s", res.body)
	res = b.do(t, b.keyB, "POST", "/messages/send-list", validList())
	require.Equal(t, 404, res.status, "%s", res.body)

	after, err := b.core.LastSeq(ctx)
	require.NoError(t, err)
	require.Equal(t, seq, after, "a refused request emitted events")
	require.Len(t, b.net.SendLog(), sends, "a refused request reached the engine")
	page, err := b.core.Messages(ctx, &waqtor.MessageListParams{Session: "default", Chat: alicePhone, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, page.Messages, "a refused request stored a message")
	require.Empty(t, b.net.Phone(alicePhone).Received())
}

func addRows(m map[string]any, n int) {
	var rows []map[string]any
	for i := range n {
		id := string(rune('a' + i))
		rows = append(rows, map[string]any{"id": "extra-" + id, "title": "Extra " + id})
	}
	m["sections"] = append(m["sections"].([]map[string]any), map[string]any{"title": "More", "rows": rows})
}
