package waqtor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waqtor/waqtor"
)

var phoneCases = map[string]struct {
	in, want string
	err      bool
}{
	"e164":             {in: "+201001234567", want: "+201001234567"},
	"spaces and dash":  {in: " +1 (555) 000-1111 ", want: "+15550001111"},
	"dots":             {in: "44.20.7946.0958", want: "+442079460958"},
	"double zero":      {in: "00966501234567", want: "+966501234567"},
	"bare digits":      {in: "966501234567", want: "+966501234567"},
	"national zero":    {in: "01001234567", err: true},
	"letters":          {in: "+1 555 CALL NOW", err: true},
	"too short":        {in: "+12345", err: true},
	"too long":         {in: "+1234567890123456", err: true},
	"empty":            {in: "   ", err: true},
	"plus only":        {in: "+", err: true},
	"arabic digits":    {in: "+٢٠١٠٠١٢٣٤٥٦٧", err: true},
	"jid is not phone": {in: "123@s.whatsapp.net", err: true},
}

func TestParsePhone(t *testing.T) {
	t.Parallel()
	for name, tt := range phoneCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := waqtor.ParsePhone(tt.in)
			if tt.err {
				require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
				var fe *waqtor.FieldError
				require.True(t, errors.As(err, &fe))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeChat(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
		err      bool
	}{
		"phone":            {in: "+20 100 123 4567", want: "201001234567@s.whatsapp.net"},
		"user jid":         {in: "201001234567@s.whatsapp.net", want: "201001234567@s.whatsapp.net"},
		"device suffix":    {in: "201001234567:12@s.whatsapp.net", want: "201001234567@s.whatsapp.net"},
		"agent suffix":     {in: "201001234567.0:3@S.WhatsApp.Net", want: "201001234567@s.whatsapp.net"},
		"lid":              {in: "123456789012345@lid", want: "123456789012345@lid"},
		"group":            {in: "120363025246125486@g.us", want: "120363025246125486@g.us"},
		"old group":        {in: "201001234567-1600000000@g.us", want: "201001234567-1600000000@g.us"},
		"status":           {in: "status@broadcast", want: "status@broadcast"},
		"newsletter":       {in: "120363144038483540@newsletter", want: "120363144038483540@newsletter"},
		"unknown server":   {in: "1@example.com", err: true},
		"letters in user":  {in: "abc@s.whatsapp.net", err: true},
		"plus in jid":      {in: "+201001234567@s.whatsapp.net", err: true},
		"empty user":       {in: "@g.us", err: true},
		"bad group":        {in: "x y@g.us", err: true},
		"garbage":          {in: "hello", err: true},
		"two at":           {in: "1@2@s.whatsapp.net", err: true},
		"lid with letters": {in: "12a@lid", err: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := waqtor.NormalizeChat(tt.in)
			if tt.err {
				require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, "+201001234567", waqtor.JIDPhone("201001234567:3@s.whatsapp.net"))
	require.Empty(t, waqtor.JIDPhone("1234@lid"))
	require.True(t, waqtor.IsGroupJID("1-2@g.us"))
}

func FuzzParsePhone(f *testing.F) {
	for _, tt := range phoneCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := waqtor.ParsePhone(s)
		if err != nil {
			require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
			return
		}
		require.True(t, strings.HasPrefix(got, "+"))
		require.GreaterOrEqual(t, len(got), 8)
		require.LessOrEqual(t, len(got), 16)
		again, err := waqtor.ParsePhone(got)
		require.NoError(t, err, "normal form parses")
		require.Equal(t, got, again, "idempotent")
		jid, err := waqtor.NormalizeChat(got)
		require.NoError(t, err)
		require.Equal(t, got, waqtor.JIDPhone(jid))
	})
}

func FuzzNormalizeChat(f *testing.F) {
	for _, s := range []string{"+201001234567", "1@s.whatsapp.net", "1:2@s.whatsapp.net", "1-2@g.us", "status@broadcast", "9@lid", "@", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := waqtor.NormalizeChat(s)
		if err != nil {
			require.ErrorIs(t, err, waqtor.ErrInvalidPhone)
			return
		}
		again, err := waqtor.NormalizeChat(got)
		require.NoError(t, err)
		require.Equal(t, got, again, "idempotent")
		require.Equal(t, 1, strings.Count(got, "@"))
	})
}
