package rest

import (
	"encoding/json"
	"strconv"
	"strings"
)

// duplicateKey returns the path ("chat", "sections[0].rows[1].id") of the
// first object member whose name repeats an earlier member of the same
// object, and whether there is one. encoding/json keeps the last of two
// members silently, so {"chat": "+1…", "chat": "+2…"} would send to whoever
// the last one names, while a proxy or log that reads the first sees another
// recipient; RFC 8259 leaves the meaning undefined, and we refuse it. data
// must be valid JSON (the decoder has accepted it); names are compared after
// unescaping, exactly (json's case-insensitive field matching aside).
func duplicateKey(data []byte) (string, bool) {
	s := &dupScanner{data: data}
	s.value("")
	return s.dup, s.found
}

type dupScanner struct {
	data  []byte
	i     int
	dup   string // the first duplicate's path, when found
	found bool
}

func (s *dupScanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; it returns true once a duplicate is found.
func (s *dupScanner) value(path string) bool {
	s.skipSpace()
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '{':
		return s.object(path)
	case '[':
		return s.array(path)
	case '"':
		s.str()
	default: // number, true, false, null
		for s.i < len(s.data) && !strings.ContainsRune(",]} \t\r\n", rune(s.data[s.i])) {
			s.i++
		}
	}
	return false
}

func (s *dupScanner) object(path string) bool {
	s.i++ // {
	seen := map[string]bool{}
	for {
		s.skipSpace()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case '}':
			s.i++
			return false
		case ',':
			s.i++
			continue
		}
		name := unquote(s.str())
		child := name
		if path != "" {
			child = path + "." + name
		}
		if seen[name] {
			s.dup, s.found = child, true
			return true
		}
		seen[name] = true
		s.skipSpace()
		if s.i < len(s.data) && s.data[s.i] == ':' {
			s.i++
		}
		if s.value(child) {
			return true
		}
	}
}

func (s *dupScanner) array(path string) bool {
	s.i++ // [
	for n := 0; ; {
		s.skipSpace()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case ']':
			s.i++
			return false
		case ',':
			s.i++
			n++
			continue
		}
		if s.value(path + "[" + strconv.Itoa(n) + "]") {
			return true
		}
	}
}

// str consumes a string and returns it with its quotes, escapes as written.
func (s *dupScanner) str() []byte {
	start := s.i
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return nil
	}
	for s.i++; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return s.data[start:s.i]
		}
	}
	return s.data[start:]
}

func unquote(raw []byte) string {
	if len(raw) >= 2 && !strings.ContainsRune(string(raw), '\\') {
		return string(raw[1 : len(raw)-1])
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		return string(raw)
	}
	return out
}
