package netguard

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseWHATWGIPv4(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		host string
		want string // "" means failure
	}{
		"dotted quad":           {host: "127.0.0.1", want: "127.0.0.1"},
		"decimal integer":       {host: "2130706433", want: "127.0.0.1"},
		"octal parts":           {host: "0177.0.0.1", want: "127.0.0.1"},
		"hex parts":             {host: "0x7f.0x0.0x0.0x1", want: "127.0.0.1"},
		"two parts":             {host: "127.1", want: "127.0.0.1"},
		"three parts":           {host: "127.0.1", want: "127.0.0.1"},
		"hex two parts":         {host: "0x7f.1", want: "127.0.0.1"},
		"hex integer":           {host: "0x7F000001", want: "127.0.0.1"},
		"octal integer":         {host: "017700000001", want: "127.0.0.1"},
		"trailing dot":          {host: "127.0.0.1.", want: "127.0.0.1"},
		"bare 0x is zero":       {host: "0x.0x.0x.0x", want: "0.0.0.0"},
		"zero":                  {host: "0", want: "0.0.0.0"},
		"max":                   {host: "4294967295", want: "255.255.255.255"},
		"metadata mixed radix":  {host: "0xa9.0376.43518", want: "169.254.169.254"},
		"too big integer":       {host: "4294967296", want: ""},
		"too big last of two":   {host: "1.16777216", want: ""},
		"octet over 255":        {host: "256.0.0.1", want: ""},
		"five parts":            {host: "1.2.3.4.5", want: ""},
		"empty part":            {host: "1..2.3", want: ""},
		"bad octal digit":       {host: "08.0.0.1", want: ""},
		"bad hex digit":         {host: "0xg.0.0.1", want: ""},
		"name":                  {host: "example.com", want: ""},
		"huge number saturates": {host: "99999999999999999999999999", want: ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseWHATWGIPv4(tt.host)
			if tt.want == "" {
				require.False(t, ok, "got %v", got)
				return
			}
			require.True(t, ok)
			require.Equal(t, netip.MustParseAddr(tt.want), got)
		})
	}
}

func TestEndsInNumber(t *testing.T) {
	t.Parallel()

	tests := map[string]bool{
		"example.com":        false,
		"example.123":        true,
		"foo.0x":             true,
		"foo.0x1f":           true,
		"foo.0xg":            false,
		"1.2.3.4.":           true,
		".":                  false,
		"":                   false,
		"123abc":             false,
		"xn--80ak6aa92e.com": false,
		"09":                 true, // all digits, though not valid octal: the parser then fails
	}
	for host, want := range tests {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, endsInNumber(host))
		})
	}
}

func TestEmbedded4(t *testing.T) {
	t.Parallel()

	// Each decoder is checked against an address built by hand.
	tests := map[string]struct {
		addr string
		want []string
	}{
		"mapped":     {addr: "::ffff:1.2.3.4", want: []string{"1.2.3.4"}},
		"compatible": {addr: "::1.2.3.4", want: []string{"1.2.3.4"}},
		"translated": {addr: "::ffff:0:1.2.3.4", want: []string{"1.2.3.4"}},
		"NAT64":      {addr: "64:ff9b::1.2.3.4", want: []string{"1.2.3.4"}},
		"NAT64 local-use, all RFC 6052 lengths": {
			// /48: 0102 at bits 48-63, 0304 after the u-octet.
			addr: "64:ff9b:1:102:3:400::",
			want: []string{"1.2.3.4", "2.3.4.0", "3.4.0.0", "0.0.0.0"},
		},
		"6to4":   {addr: "2002:102:304::1", want: []string{"1.2.3.4"}},
		"Teredo": {addr: "2001:0:4136:e378:8000:63bf:fefd:fcfb", want: []string{"1.2.3.4", "65.54.227.120"}},
		"ISATAP": {addr: "2001:4860::200:5efe:1.2.3.4", want: []string{"1.2.3.4"}},
		"plain":  {addr: "2606:4700::1111", want: nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, e := range embedded4(netip.MustParseAddr(tt.addr)) {
				got = append(got, e.addr.String())
			}
			require.Equal(t, tt.want, got)
		})
	}
}
