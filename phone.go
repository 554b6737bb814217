package waqtor

import (
	"strings"
)

// JID servers waqtor recognises.
const (
	ServerBroadcast  = "broadcast"
	ServerGroup      = "g.us"
	ServerLID        = "lid"
	ServerNewsletter = "newsletter"
	ServerUser       = "s.whatsapp.net"
)

// ParsePhone normalises a phone number to E.164 ("+201001234567"). It accepts an
// international number with "+" or "00", or bare digits that start with the
// country code (as WhatsApp writes them), with spaces, dashes, dots and
// parentheses as separators. It refuses letters, numbers that start with 0 after
// the prefix (a national number without country code) and lengths outside 7–15
// digits, with an error wrapping ErrInvalidPhone.
func ParsePhone(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", fieldErr(ErrInvalidPhone, "phone", "is empty")
	}
	if len(in) > 64 {
		return "", fieldErr(ErrInvalidPhone, "phone", "is too long")
	}
	rest := in
	switch {
	case strings.HasPrefix(rest, "+"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "00"):
		rest = rest[2:]
	}
	digits := make([]byte, 0, 16)
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", fieldErr(ErrInvalidPhone, "phone", "%q contains %q; use digits with an optional leading +", s, c)
		}
	}
	if len(digits) == 0 {
		return "", fieldErr(ErrInvalidPhone, "phone", "%q has no digits", s)
	}
	if digits[0] == '0' {
		return "", fieldErr(ErrInvalidPhone, "phone", "%q lacks a country code; write it as +<country code><number>", s)
	}
	if len(digits) < 7 || len(digits) > 15 {
		return "", fieldErr(ErrInvalidPhone, "phone", "%q has %d digits; E.164 numbers have 7 to 15", s, len(digits))
	}
	return "+" + string(digits), nil
}

// PhoneJID returns the user JID of a phone number ("201001234567@s.whatsapp.net").
func PhoneJID(phone string) (string, error) {
	e164, err := ParsePhone(phone)
	if err != nil {
		return "", err
	}
	return e164[1:] + "@" + ServerUser, nil
}

// NormalizeChat turns a phone number or a JID into a canonical chat JID. Phone
// numbers become user JIDs; JIDs are lower-cased, stripped of a device suffix
// ("123:4@s.whatsapp.net" → "123@s.whatsapp.net") and checked against the known
// servers.
func NormalizeChat(s string) (string, error) {
	in := strings.TrimSpace(s)
	user, server, ok := strings.Cut(in, "@")
	if !ok {
		return PhoneJID(in)
	}
	server = strings.ToLower(server)
	if i := strings.IndexByte(user, ':'); i >= 0 && server != ServerGroup {
		user = user[:i] // device part
	}
	if j := strings.IndexByte(user, '.'); j >= 0 && (server == ServerUser || server == ServerLID) {
		user = user[:j] // agent part
	}
	if user == "" {
		return "", fieldErr(ErrInvalidPhone, "chat", "%q has an empty user part", s)
	}
	switch server {
	case ServerUser:
		if _, err := ParsePhone(user); err != nil || strings.HasPrefix(user, "+") {
			return "", fieldErr(ErrInvalidPhone, "chat", "%q is not <digits>@%s", s, ServerUser)
		}
	case ServerLID, ServerNewsletter:
		if !allDigits(user) {
			return "", fieldErr(ErrInvalidPhone, "chat", "%q is not <digits>@%s", s, server)
		}
	case ServerGroup:
		if !allDigitsOr(user, '-') {
			return "", fieldErr(ErrInvalidPhone, "chat", "%q is not a group JID", s)
		}
	case ServerBroadcast:
		if user != "status" && !allDigits(user) {
			return "", fieldErr(ErrInvalidPhone, "chat", "%q is not a broadcast JID", s)
		}
	default:
		return "", fieldErr(ErrInvalidPhone, "chat", "%q has unknown server %q", s, server)
	}
	return user + "@" + server, nil
}

// JIDPhone returns the E.164 number of a user JID, or "" for other JIDs.
func JIDPhone(jid string) string {
	user, server, ok := strings.Cut(jid, "@")
	if !ok || server != ServerUser {
		return ""
	}
	if i := strings.IndexAny(user, ":."); i >= 0 {
		user = user[:i]
	}
	if !allDigits(user) {
		return ""
	}
	return "+" + user
}

// IsGroupJID reports whether jid is a group.
func IsGroupJID(jid string) bool { return strings.HasSuffix(jid, "@"+ServerGroup) }

func allDigits(s string) bool { return allDigitsOr(s, 0) }

func allDigitsOr(s string, extra byte) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (extra == 0 || s[i] != extra) {
			return false
		}
	}
	return true
}
