package waqtor

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func validButtons() *Buttons {
	return &Buttons{Body: "Pick one", Footer: "Reply with a number", Buttons: []Button{{ID: "yes", Text: "Yes"}, {ID: "no", Text: "No"}}}
}

func validList() *List {
	return &List{Title: "Menu", Body: "What would you like?", ButtonText: "Open", Footer: "Thanks", Sections: []ListSection{
		{Title: "Drinks", Rows: []ListRow{{ID: "tea", Title: "Tea", Description: "hot"}, {ID: "coffee", Title: "Coffee"}}},
		{Title: "Food", Rows: []ListRow{{ID: "cake", Title: "Cake"}}},
	}}
}

func TestButtonsValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate func(b *Buttons)
		field  string
	}{
		"Valid":          {func(*Buttons) {}, ""},
		"EmptyBody":      {func(b *Buttons) { b.Body = " " }, "body"},
		"NoButtons":      {func(b *Buttons) { b.Buttons = nil }, "buttons"},
		"TooManyButtons": {func(b *Buttons) { b.Buttons = append(b.Buttons, Button{"a", "A"}, Button{"b", "B"}) }, "buttons"},
		"EmptyID":        {func(b *Buttons) { b.Buttons[0].ID = "" }, "buttons[0].id"},
		"DuplicateID":    {func(b *Buttons) { b.Buttons[1].ID = "yes" }, "buttons[1].id"},
		"DuplicateLabel": {func(b *Buttons) { b.Buttons[1].Text = "YES" }, "buttons[1]"},
		"LongLabel":      {func(b *Buttons) { b.Buttons[0].Text = strings.Repeat("x", MaxButtonText+1) }, "buttons[0]"},
		"BadMode":        {func(b *Buttons) { b.Mode = "carousel" }, "mode"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := validButtons()
			tt.mutate(b)
			err := b.validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.ErrorIs(t, err, ErrInvalidMessage)
			require.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestListValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate func(l *List)
		field  string
	}{
		"Valid":        {func(*List) {}, ""},
		"NoButtonText": {func(l *List) { l.ButtonText = "" }, "button_text"},
		"NoSections":   {func(l *List) { l.Sections = nil }, "sections"},
		"EmptySection": {func(l *List) { l.Sections[1].Rows = nil }, "sections[1].rows"},
		"DuplicateID":  {func(l *List) { l.Sections[1].Rows[0].ID = "tea" }, "sections[1].rows[0].id"},
		"TooManyRows": {func(l *List) {
			for i := 0; i < MaxListRows; i++ {
				l.Sections[1].Rows = append(l.Sections[1].Rows, ListRow{ID: strings.Repeat("r", i+1), Title: strings.Repeat("t", i+1)})
			}
		}, "sections"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := validList()
			tt.mutate(l)
			err := l.validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestInteractiveFallbacks(t *testing.T) {
	t.Parallel()

	t.Run("ButtonsTextMenu", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "Pick one\n\n1. Yes\n2. No\n\nReply with a number", validButtons().TextMenu())
	})
	t.Run("ListTextMenu", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "*Menu*\nWhat would you like?\n\n*Drinks*\n1. Tea — hot\n2. Coffee\n\n*Food*\n3. Cake\n\nThanks", validList().TextMenu())
	})
	t.Run("Polls", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, &Poll{Question: "Pick one", Options: []string{"Yes", "No"}, MaxSelections: 1}, validButtons().Poll())
		require.Equal(t, &Poll{Question: "Menu", Options: []string{"Tea", "Coffee", "Cake"}, MaxSelections: 1}, validList().Poll())
		require.NoError(t, validList().Poll().validate())
	})
	t.Run("Choice", func(t *testing.T) {
		t.Parallel()
		b := validButtons()
		for reply, want := range map[string]string{"1": "yes", " 2. ": "no", "no": "no", "YES": "yes", "yes": "yes"} {
			got, ok := b.Choice(reply)
			require.True(t, ok, reply)
			require.Equal(t, want, got.ID, reply)
		}
		_, ok := b.Choice("3")
		require.False(t, ok)
		row, ok := validList().Choice("3")
		require.True(t, ok)
		require.Equal(t, "cake", row.ID)
		row, ok = validList().Choice("coffee")
		require.True(t, ok)
		require.Equal(t, "coffee", row.ID)
	})
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		for _, c := range []Content{validButtons(), validList()} {
			b, err := MarshalContent(c)
			require.NoError(t, err)
			got, err := UnmarshalContent(b)
			require.NoError(t, err)
			require.Equal(t, c, got)
		}
	})
}
