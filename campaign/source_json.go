package campaign

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

func readNDJSON(r io.Reader, o *SourceOpts, yield func(RecipientInput, error) bool) {
	fail := func(e *SourceError) {
		e.format = FormatNDJSON
		yield(RecipientInput{}, e)
	}
	br, err := newSource(r)
	if err != nil {
		yield(RecipientInput{}, readErr(err))
		return
	}
	dec := objectDecoder{o: o, match: newPhoneMatcher(o.PhoneColumn)}
	var long []byte // holds a line longer than br's buffer
	var line, count int64
	for {
		line++
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], b...)
			for err == bufio.ErrBufferFull && len(long) <= o.MaxRecordBytes {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if len(b) > o.MaxRecordBytes {
			fail(&SourceError{Line: line, Reason: fmt.Sprintf("the line is longer than %d bytes (SourceOpts.MaxRecordBytes)", o.MaxRecordBytes)})
			return
		}
		if err != nil && err != io.EOF {
			yield(RecipientInput{}, readErr(err))
			return
		}
		eof := err == io.EOF
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if !utf8.Valid(t) {
				fail(&SourceError{Line: line, Reason: "the line is not valid UTF-8"})
				return
			}
			if count >= o.MaxRecipients {
				fail(&SourceError{Line: line, Reason: fmt.Sprintf("more than %d recipients (SourceOpts.MaxRecipients); split the upload", o.MaxRecipients)})
				return
			}
			if !json.Valid(t) {
				// Decode the line again for a precise error.
				jd := json.NewDecoder(bytes.NewReader(t))
				se := &SourceError{Reason: "unexpected data after the JSON object; write one object per line"}
				if err := jd.Decode(new(json.RawMessage)); err != nil {
					se = jsonProblem(err, jd, o.MaxRecordBytes)
				}
				se.Line = line
				fail(se)
				return
			}
			in, err := dec.decode(t)
			if err != nil {
				se := err.(*SourceError)
				se.Line = line
				fail(se)
				return
			}
			in.Line = line
			count++
			if !yield(in, nil) {
				return
			}
		}
		if eof {
			return
		}
	}
}

// ---- JSON ----

// jsonChunk bounds one read the JSON decoder sees, and so how far it reads
// ahead of the element it is decoding.
const jsonChunk = 16 << 10

var (
	errTooLong = errors.New("record too long")
	errNotUTF8 = errors.New("not valid UTF-8")
)

// jsonFeeder caps how far the JSON decoder may read (limit, moved on at each
// element) and stops it at the first rune that is not UTF-8, which
// encoding/json would otherwise quietly replace with U+FFFD. It hands over
// only whole runes, holding back an incomplete one until the rest arrives, and
// every byte before a bad rune, so that the decoder fails (with errNotUTF8)
// exactly when the element it decodes needs that rune, however the input is
// split into reads.
type jsonFeeder struct {
	r     io.Reader
	n     int64 // bytes handed
	limit int64
	badAt int64             // offset of the first rune that is not UTF-8
	carry [utf8.UTFMax]byte // an incomplete rune held back
	ncar  int
	err   error // sticky: errTooLong, errNotUTF8 or the reader's error
	ioErr error
}

// Read implements io.Reader for the JSON decoder, which always asks for more
// than utf8.UTFMax bytes.
func (f *jsonFeeder) Read(p []byte) (int, error) {
	for {
		if f.err != nil {
			return 0, f.err
		}
		room := f.limit - f.n
		if room <= int64(f.ncar) {
			f.err = errTooLong
			return 0, f.err
		}
		p = p[:min(int64(len(p)), room, jsonChunk)]
		if len(p) <= f.ncar {
			return 0, io.ErrShortBuffer
		}
		k := copy(p, f.carry[:f.ncar])
		n, err := f.r.Read(p[k:])
		m := k + n
		f.ncar = 0
		if err != nil && err != io.EOF {
			f.ioErr, f.err = err, err
		}
		// Hold back a trailing incomplete rune unless the input ends here.
		end := m
		if err == nil {
			for i := m - 1; i >= 0 && i >= m-utf8.UTFMax+1; i-- {
				if utf8.RuneStart(p[i]) {
					if !utf8.FullRune(p[i:m]) {
						end = i
					}
					break
				}
			}
		}
		if i, ok := firstInvalid(p[:end]); !ok {
			end = i
			f.badAt, f.err = f.n+int64(i), errNotUTF8
		} else if end < m {
			f.ncar = copy(f.carry[:], p[end:m])
		}
		f.n += int64(end)
		if end > 0 {
			return end, nil
		}
		if err == io.EOF && f.err == nil {
			return 0, io.EOF
		}
	}
}

// firstInvalid returns the index of the first rune in p that is not valid
// UTF-8 and false, or len(p) and true.
func firstInvalid(p []byte) (int, bool) {
	if utf8.Valid(p) {
		return len(p), true
	}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 {
			return i, false
		}
		i += size
	}
	return len(p), true
}

func readJSON(r io.Reader, o *SourceOpts, yield func(RecipientInput, error) bool) {
	var idx int64 // position of the element being read, 1-based
	fail := func(e *SourceError) {
		e.format = FormatJSON
		yield(RecipientInput{}, e)
	}
	br, err := newSource(r)
	if err != nil {
		yield(RecipientInput{}, readErr(err))
		return
	}
	feed := &jsonFeeder{r: br, limit: int64(o.MaxRecordBytes) + jsonChunk}
	jd := json.NewDecoder(feed)
	jd.UseNumber()
	problem := func(err error) {
		if feed.ioErr != nil {
			yield(RecipientInput{}, readErr(feed.ioErr))
			return
		}
		if errors.Is(err, errNotUTF8) {
			fail(&SourceError{Line: idx, Reason: fmt.Sprintf("the input is not valid UTF-8 (byte %d)", feed.badAt)})
			return
		}
		se := jsonProblem(err, jd, o.MaxRecordBytes)
		se.Line = idx
		fail(se)
	}
	expect := func(want json.Delim, what string) bool {
		tok, err := jd.Token()
		if err != nil {
			problem(err)
			return false
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			fail(&SourceError{Line: idx, Reason: fmt.Sprintf("expected %s, found %s", what, describeToken(tok))})
			return false
		}
		return true
	}

	const shape = `a JSON array of recipients or {"recipients": [...]}`
	tok, err := jd.Token()
	switch {
	case err == io.EOF:
		fail(&SourceError{Reason: "the upload is empty; expected " + shape})
		return
	case err != nil:
		problem(err)
		return
	}
	wrapped := false
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		wrapped = true
		key, err := jd.Token()
		if err != nil {
			problem(err)
			return
		}
		if key != "recipients" {
			fail(&SourceError{Reason: fmt.Sprintf("expected %s, found an object with %s", shape, describeToken(key))})
			return
		}
		if !expect('[', `an array after "recipients"`) {
			return
		}
	default:
		fail(&SourceError{Reason: fmt.Sprintf("expected %s, found %s", shape, describeToken(tok))})
		return
	}

	dec := objectDecoder{o: o, match: newPhoneMatcher(o.PhoneColumn)}
	var raw json.RawMessage
	tooLong := func() {
		fail(&SourceError{Line: idx, Reason: fmt.Sprintf("the recipient is longer than %d bytes (SourceOpts.MaxRecordBytes)", o.MaxRecordBytes)})
	}
	for jd.More() {
		idx++
		if idx > o.MaxRecipients {
			fail(&SourceError{Line: idx, Reason: fmt.Sprintf("more than %d recipients (SourceOpts.MaxRecipients); split the upload", o.MaxRecipients)})
			return
		}
		start := jd.InputOffset()
		feed.limit = start + int64(o.MaxRecordBytes) + jsonChunk
		err := jd.Decode(&raw)
		if errors.Is(err, errTooLong) || err == nil && jd.InputOffset()-start > int64(o.MaxRecordBytes) {
			tooLong()
			return
		}
		if err != nil {
			problem(err)
			return
		}
		in, err := dec.decode(raw)
		if err != nil {
			problem(err)
			return
		}
		in.Line = idx
		if !yield(in, nil) {
			return
		}
	}
	idx = 0
	feed.limit = jd.InputOffset() + int64(o.MaxRecordBytes) + jsonChunk
	if !expect(']', "the end of the array") {
		return
	}
	if wrapped && !expect('}', `the end of the object after "recipients"`) {
		return
	}
	if tok, err := jd.Token(); err != io.EOF {
		if err != nil {
			problem(err)
			return
		}
		fail(&SourceError{Reason: fmt.Sprintf("unexpected %s after the recipients", describeToken(tok))})
	}
}

// jsonProblem turns a decoding error into a SourceError without a line.
func jsonProblem(err error, jd *json.Decoder, maxBytes int) *SourceError {
	var se *SourceError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, errTooLong):
		return &SourceError{Reason: fmt.Sprintf("the JSON is longer than %d bytes here (SourceOpts.MaxRecordBytes)", maxBytes)}
	case errors.As(err, &syn):
		return &SourceError{Reason: fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn), Err: err}
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return &SourceError{Reason: fmt.Sprintf("the JSON ends early, at byte %d", jd.InputOffset()), Err: io.ErrUnexpectedEOF}
	}
	return &SourceError{Reason: "invalid JSON: " + err.Error(), Err: err}
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return strconv.Quote(t.String())
	case string:
		return "the string " + strconv.Quote(excerpt(t))
	case json.Number:
		return "the number " + excerpt(t.String())
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

func excerpt(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// objectDecoder decodes recipient objects from JSON that encoding/json has
// already checked (json.Valid, json.Decoder.Decode), walking it in place: it
// keeps the order of the fields and sees duplicate names, which decoding into
// a map would lose, and it is several times faster than json.Decoder.Token.
// Its scratch space is reused.
type objectDecoder struct {
	o      *SourceOpts
	match  phoneMatcher
	fields []jsonField
	b      []byte
	i      int
}

type jsonField struct {
	name, value string
	nested      bool // inside "variables"
}

// decode reads the recipient object in b, which must be one valid JSON value.
// Problems come back as a *SourceError without a line.
func (d *objectDecoder) decode(b []byte) (RecipientInput, error) {
	d.b, d.i = b, 0
	defer func() { d.b = nil }()
	if d.peek() != '{' {
		return RecipientInput{}, &SourceError{Reason: fmt.Sprintf("expected a recipient object, found %s", d.describe())}
	}
	d.i++
	d.fields = d.fields[:0]
	if err := d.members(false); err != nil {
		return RecipientInput{}, err
	}

	phone := -1
	for i, f := range d.fields {
		if f.nested {
			continue
		}
		if d.match.explicit == "" && f.name == "phone" {
			phone = i
			break
		}
		if phone < 0 && d.match.match(f.name) {
			phone = i
			if d.match.explicit != "" {
				break
			}
		}
	}
	if phone < 0 {
		names := make([]string, 0, len(d.fields))
		for _, f := range d.fields {
			if !f.nested {
				names = append(names, strconv.Quote(f.name))
			}
		}
		found := "no fields"
		if len(names) > 0 {
			found = "fields " + strings.Join(names, ", ")
		}
		return RecipientInput{}, &SourceError{Reason: fmt.Sprintf("no phone field (found %s); %s", found, d.match.hint())}
	}
	in := RecipientInput{Phone: d.fields[phone].value}
	if n := len(d.fields) - 1; n > 0 {
		in.Variables = make(map[string]string, n)
		for i, f := range d.fields {
			if i == phone {
				continue
			}
			if _, dup := in.Variables[f.name]; dup || f.name == d.fields[phone].name {
				return RecipientInput{}, &SourceError{Column: f.name, Reason: "the field is given twice"}
			}
			in.Variables[f.name] = f.value
		}
	}
	return in, nil
}

// members reads an object's members up to and including its closing brace,
// the opening one having been read.
func (d *objectDecoder) members(nested bool) error {
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		raw := d.str()
		d.peek() // the colon
		d.i++
		name := strings.TrimSpace(raw)
		switch {
		case name == "":
			return &SourceError{Reason: "a field has an empty name"}
		case len(name) > d.o.MaxValueBytes:
			return &SourceError{Column: excerpt(name), Reason: fmt.Sprintf("the field name is longer than %d bytes (SourceOpts.MaxValueBytes)", d.o.MaxValueBytes)}
		case len(d.fields) > d.o.MaxVariables: // the phone and MaxVariables variables
			return &SourceError{Reason: fmt.Sprintf("more than %d variables (SourceOpts.MaxVariables)", d.o.MaxVariables)}
		}
		c := d.peek()
		switch {
		case !nested && raw == "variables" && c == '{':
			d.i++
			if err := d.members(true); err != nil {
				return err
			}
		case !nested && raw == "variables" && c == 'n':
			d.i += len("null")
		case !nested && raw == "variables":
			return &SourceError{Column: name, Reason: fmt.Sprintf("expected an object of variables, found %s", d.describe())}
		case c == '{' || c == '[':
			return &SourceError{Column: name, Reason: fmt.Sprintf("found %s; values must be strings, numbers, booleans or null", d.describe())}
		default:
			value := d.scalar()
			if len(value) > d.o.MaxValueBytes {
				return &SourceError{Column: name, Reason: fmt.Sprintf("the value is longer than %d bytes (SourceOpts.MaxValueBytes)", d.o.MaxValueBytes)}
			}
			d.fields = append(d.fields, jsonField{name: name, value: value, nested: nested})
		}
		c = d.peek() // ',' or '}'
		d.i++
		if c != ',' {
			return nil
		}
		d.peek()
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (d *objectDecoder) peek() byte {
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

// str reads a string at d.i.
func (d *objectDecoder) str() string {
	start := d.i
	escaped := false
	j := start + 1
	for j < len(d.b) && d.b[j] != '"' {
		if d.b[j] == '\\' {
			escaped = true
			j++
		}
		j++
	}
	end := min(j+1, len(d.b))
	d.i = end
	if !escaped {
		return string(d.b[min(start+1, end):max(end-1, start+1)])
	}
	var s string
	_ = json.Unmarshal(d.b[start:end], &s) // valid JSON: cannot fail
	return s
}

// scalar reads a string, number, boolean or null at d.i as a variable value:
// numbers as written, booleans as "true" or "false", null as "".
func (d *objectDecoder) scalar() string {
	switch d.peek() {
	case '"':
		return d.str()
	case 't':
		d.i += len("true")
		return "true"
	case 'f':
		d.i += len("false")
		return "false"
	case 'n':
		d.i += len("null")
		return ""
	}
	start := d.i
	for d.i < len(d.b) && strings.IndexByte("+-0123456789.eE", d.b[d.i]) >= 0 {
		d.i++
	}
	return string(d.b[start:d.i])
}

// describe names the value at d.i for an error message.
func (d *objectDecoder) describe() string {
	switch d.peek() {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "the string " + strconv.Quote(excerpt(d.str()))
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "the number " + excerpt(d.scalar())
}
