package campaign

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Recipient upload errors.
var (
	// ErrInvalidRecipients reports a malformed recipient upload. Readers return it
	// inside a *SourceError that names the line and the column or field.
	ErrInvalidRecipients = errors.New("campaign: invalid recipients")
	// ErrInvalidSourceOpts reports a SourceOpts field out of range; the message
	// names the field.
	ErrInvalidSourceOpts = errors.New("campaign: invalid source options")
	// ErrUnsupportedFormat reports an upload format or Content-Type the readers
	// do not know.
	ErrUnsupportedFormat = errors.New("campaign: unsupported recipient format")
)

// RecipientInput is one recipient as read from an upload or given from Go.
type RecipientInput struct {
	// Phone is the recipient's number as given (normalised later with
	// waqtor.ParsePhone). It may be empty when the upload's phone cell is empty:
	// readers yield such recipients rather than drop them.
	Phone string `json:"phone"`
	// Variables are the recipient's template variables, keyed by name. Nil when
	// the upload has no variable columns or fields.
	Variables map[string]string `json:"variables,omitempty"`
	// Line is where the recipient came from, 1-based: for CSV the first line of
	// its record, for NDJSON its line, for JSON its position in the array. It is
	// 0 for recipients given from Go.
	Line int64 `json:"-"`
}

// Format of a recipient upload.
type Format string

// Formats the readers understand.
const (
	// FormatCSV is RFC 4180 CSV with a header row.
	FormatCSV Format = "csv"
	// FormatNDJSON is one JSON object per line.
	FormatNDJSON Format = "ndjson"
	// FormatJSON is a JSON array of objects, or {"recipients": [...]}.
	FormatJSON Format = "json"
)

// FormatFromContentType maps an upload's Content-Type to a Format:
//
//   - text/csv, application/csv, text/comma-separated-values, and
//     application/vnd.ms-excel (which browsers on Windows send for .csv files)
//     are FormatCSV;
//   - application/x-ndjson, application/ndjson, application/jsonl,
//     application/x-jsonl, application/jsonlines and application/x-jsonlines are
//     FormatNDJSON;
//   - application/json and text/json are FormatJSON.
//
// Parameters are allowed, but a charset other than UTF-8 (or US-ASCII) is
// refused, since the readers take UTF-8 only. Errors wrap ErrUnsupportedFormat.
func FormatFromContentType(ct string) (Format, error) {
	if strings.TrimSpace(ct) == "" {
		return "", fmt.Errorf("%w: no Content-Type; send text/csv, application/x-ndjson or application/json", ErrUnsupportedFormat)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("%w: Content-Type %q: %w", ErrUnsupportedFormat, ct, err)
	}
	if cs, ok := params["charset"]; ok {
		switch strings.ToLower(cs) {
		case "utf-8", "utf8", "us-ascii":
		default:
			return "", fmt.Errorf("%w: charset %q; recipients must be UTF-8", ErrUnsupportedFormat, cs)
		}
	}
	switch mt {
	case "text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel":
		return FormatCSV, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonl",
		"application/jsonlines", "application/x-jsonlines":
		return FormatNDJSON, nil
	case "application/json", "text/json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("%w: Content-Type %q; send text/csv, application/x-ndjson or application/json", ErrUnsupportedFormat, mt)
}

// Defaults and limits of SourceOpts.
const (
	// MaxRecipientsDefault is SourceOpts.MaxRecipients when it is zero.
	MaxRecipientsDefault int64 = 1_000_000
	// MaxRecipientsLimit is the largest SourceOpts.MaxRecipients allowed.
	MaxRecipientsLimit int64 = 10_000_000
	// MaxRecordBytesDefault is SourceOpts.MaxRecordBytes when it is zero.
	MaxRecordBytesDefault = 64 << 10
	// MaxRecordBytesLimit is the largest SourceOpts.MaxRecordBytes allowed.
	MaxRecordBytesLimit = 16 << 20
	// MaxValueBytesDefault is SourceOpts.MaxValueBytes when it is zero.
	MaxValueBytesDefault = 4 << 10
	// MaxVariablesDefault is SourceOpts.MaxVariables when it is zero.
	MaxVariablesDefault = 64
)

// PhoneColumnNames are the header names (CSV) and field names (JSON) taken as
// the phone when SourceOpts.PhoneColumn is empty. Names are compared after
// trimming, lower-casing and treating runs of spaces, "_" and "-" alike, so
// "Phone Number", "PHONE-NUMBER" and "phone_number" all match "phone_number",
// and "رقم الهاتف" matches "رقم_الهاتف".
var PhoneColumnNames = []string{
	"phone", "phone_number", "number", "mobile", "msisdn", "whatsapp", "tel",
	"رقم", "الهاتف", "الجوال", "رقم_الهاتف", "رقم الجوال",
}

// SourceOpts tunes ReadRecipients. The zero value (or nil) is ready to use.
type SourceOpts struct {
	// Comma is the CSV delimiter. Defaults to detecting it from the header's
	// first line: whichever of ',', ';' and tab appears most often there outside
	// quotes, ',' on a tie or when none does (spreadsheets in many locales save
	// "CSV" with ';'). It must not be '"', '\r' or '\n'.
	Comma rune
	// MaxRecipients bounds how many recipients a reader yields; one more record
	// is an error naming its line. At most MaxRecipientsLimit. Defaults to
	// MaxRecipientsDefault.
	MaxRecipients int64
	// MaxRecordBytes bounds one record as uploaded, line endings included: a CSV
	// record (all its lines), an NDJSON line, or a JSON array element (with the
	// separator before it). A longer one is an error, found without reading it
	// into memory whole. At most MaxRecordBytesLimit. Defaults to
	// MaxRecordBytesDefault (64 KiB).
	MaxRecordBytes int
	// MaxValueBytes bounds the phone, each variable value and each variable
	// name. Defaults to MaxValueBytesDefault (4 KiB).
	MaxValueBytes int
	// MaxVariables bounds the variables of one recipient. Defaults to
	// MaxVariablesDefault (64).
	MaxVariables int
	// PhoneColumn names the CSV column or JSON field holding the phone,
	// compared as PhoneColumnNames are. Defaults to the first CSV header in
	// PhoneColumnNames; for JSON, to the field "phone" or else the first field
	// in PhoneColumnNames.
	PhoneColumn string
}

// WithDefaults returns a copy of o (which may be nil) with zero fields set to
// their defaults. It never changes o.
func (o *SourceOpts) WithDefaults() *SourceOpts {
	var c SourceOpts
	if o != nil {
		c = *o
	}
	c.MaxRecipients = cmp.Or(c.MaxRecipients, MaxRecipientsDefault)
	c.MaxRecordBytes = cmp.Or(c.MaxRecordBytes, MaxRecordBytesDefault)
	c.MaxValueBytes = cmp.Or(c.MaxValueBytes, MaxValueBytesDefault)
	c.MaxVariables = cmp.Or(c.MaxVariables, MaxVariablesDefault)
	return &c
}

func (o *SourceOpts) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSourceOpts}, args...)...)
	}
	switch {
	case o.Comma != 0 && (o.Comma == '"' || o.Comma == '\r' || o.Comma == '\n' || !utf8.ValidRune(o.Comma) || o.Comma == utf8.RuneError):
		return bad("Comma %q cannot delimit CSV; use ',', ';', '\\t' or 0 to detect it", o.Comma)
	case o.MaxRecipients < 0 || o.MaxRecipients > MaxRecipientsLimit:
		return bad("MaxRecipients is %d; use 1 to %d, or 0 for %d", o.MaxRecipients, MaxRecipientsLimit, MaxRecipientsDefault)
	case o.MaxRecordBytes < 0 || o.MaxRecordBytes > MaxRecordBytesLimit:
		return bad("MaxRecordBytes is %d; use 1 to %d, or 0 for %d", o.MaxRecordBytes, MaxRecordBytesLimit, MaxRecordBytesDefault)
	case o.MaxValueBytes < 0:
		return bad("MaxValueBytes is %d; use a positive number, or 0 for %d", o.MaxValueBytes, MaxValueBytesDefault)
	case o.MaxVariables < 0:
		return bad("MaxVariables is %d; use a positive number, or 0 for %d", o.MaxVariables, MaxVariablesDefault)
	case !utf8.ValidString(o.PhoneColumn):
		return bad("PhoneColumn is not valid UTF-8")
	}
	return nil
}

// SourceError reports a malformed upload: where (the line, and the column or
// field when known) and what is wrong. It wraps ErrInvalidRecipients and, when
// there is one, the underlying parse error (a *csv.ParseError, a
// *json.SyntaxError, ...).
type SourceError struct {
	// Line is where the problem is, 1-based: a CSV or NDJSON line, or a
	// recipient's position in a JSON array. 0 when it is about the whole upload
	// (it is empty, say).
	Line int64
	// Column is the CSV header name or JSON field at fault, or "" when the
	// problem is not about one.
	Column string
	// Reason says what is wrong in words a user can act on.
	Reason string
	// Err is the underlying parse error, or nil.
	Err error

	format Format
}

// Error implements error.
func (e *SourceError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidRecipients.Error())
	b.WriteString(": ")
	if e.Line > 0 {
		if e.format == FormatJSON {
			b.WriteString("recipient ")
		} else {
			b.WriteString("line ")
		}
		b.WriteString(strconv.FormatInt(e.Line, 10))
	}
	if e.Column != "" {
		if e.Line > 0 {
			b.WriteString(", ")
		}
		if e.format == FormatCSV {
			b.WriteString("column ")
		} else {
			b.WriteString("field ")
		}
		b.WriteString(strconv.Quote(e.Column))
	}
	if e.Line > 0 || e.Column != "" {
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalidRecipients and the underlying error, if any.
func (e *SourceError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidRecipients}
	}
	return []error{ErrInvalidRecipients, e.Err}
}

// ReadRecipients returns an iterator over the recipients in r, read in format f.
// It streams: memory stays bounded by opts (MaxRecordBytes, MaxValueBytes,
// MaxVariables) however large the input, and it runs no goroutines. It yields
// (recipient, nil) for each recipient; on the first malformed record it yields
// one (RecipientInput{}, err) with err a *SourceError naming the line, and
// stops. An error reading r is yielded the same way but is not a *SourceError:
// it wraps the reader's error. Bad opts or an unknown format are yielded as the
// first and only error. The sequence reads r as it goes, so it can be ranged
// over once; breaking out of the loop stops reading at once.
//
// CSV: RFC 4180 (quoted fields may hold delimiters, quotes as "" and line
// breaks), UTF-8 with or without a byte-order mark, CRLF or LF line endings.
// The first non-empty row is the header: names are trimmed and must be unique;
// the phone column is SourceOpts.PhoneColumn or the first name in
// PhoneColumnNames, and every other named column is a variable keyed by its
// trimmed name (values are kept as written). A column with an empty header
// name is ignored, and so are cells beyond the header; such cells must be empty
// (or blank), otherwise the row is an error. A row with fewer cells than the
// header gets empty values for the rest, an empty phone included: a row whose
// phone is empty is still yielded, for the campaign to report. Empty lines and
// rows whose every cell is blank are skipped. Invalid UTF-8 is an error (save
// the file as "CSV UTF-8").
//
// NDJSON: one JSON object per line, blank lines skipped. JSON: an array of such
// objects, or an object {"recipients": [...]}, decoded one element at a time.
// An object is {"phone": "...", "variables": {"name": "Ali"}}, or flat:
// {"phone": "...", "name": "Ali"}, where every field besides the phone and
// "variables" is a variable; both forms may be mixed in one object. Values may
// be strings, numbers (kept as written, so 966501234567 stays whole), booleans
// ("true", "false") or null (""); nested objects and arrays are errors, and so
// is an object with no phone field (a phone of "" or null is yielded, like an
// empty CSV cell). Variable names are trimmed and must be unique.
func ReadRecipients(r io.Reader, f Format, opts *SourceOpts) iter.Seq2[RecipientInput, error] {
	return func(yield func(RecipientInput, error) bool) {
		o := opts.WithDefaults()
		if err := o.validate(); err != nil {
			yield(RecipientInput{}, err)
			return
		}
		if r == nil {
			yield(RecipientInput{}, errors.New("campaign: ReadRecipients needs a reader, got nil"))
			return
		}
		switch f {
		case FormatCSV:
			readCSV(r, o, yield)
		case FormatNDJSON:
			readNDJSON(r, o, yield)
		case FormatJSON:
			readJSON(r, o, yield)
		default:
			yield(RecipientInput{}, fmt.Errorf("%w: %q; use %q, %q or %q", ErrUnsupportedFormat, f, FormatCSV, FormatNDJSON, FormatJSON))
		}
	}
}

// normName folds a column or field name for comparison with PhoneColumnNames:
// trimmed, lower-cased, with runs of spaces, '_' and '-' as one '_'.
func normName(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) || r == '_' || r == '-' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// phoneMatcher reports whether a column or field name names the phone.
type phoneMatcher struct {
	column   string          // SourceOpts.PhoneColumn
	explicit string          // normalised SourceOpts.PhoneColumn, or ""
	names    map[string]bool // normalised PhoneColumnNames
}

func newPhoneMatcher(column string) phoneMatcher {
	if column != "" {
		return phoneMatcher{column: column, explicit: normName(column)}
	}
	names := make(map[string]bool, len(PhoneColumnNames))
	for _, n := range PhoneColumnNames {
		names[normName(n)] = true
	}
	return phoneMatcher{names: names}
}

func (m phoneMatcher) match(name string) bool {
	if m.explicit != "" {
		return normName(name) == m.explicit
	}
	return m.names[normName(name)]
}

func (m phoneMatcher) hint() string {
	if m.explicit != "" {
		return fmt.Sprintf("SourceOpts.PhoneColumn is %q", m.column)
	}
	return "name it one of " + strings.Join(PhoneColumnNames, ", ") + " or set SourceOpts.PhoneColumn"
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// newSource buffers r and skips a UTF-8 byte-order mark.
func newSource(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 16<<10)
	b, err := br.Peek(len(utf8BOM))
	if bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
		return br, nil
	}
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	return br, nil
}

func readErr(err error) error {
	return fmt.Errorf("campaign: read recipients: %w", err)
}

// ---- CSV ----

// csvFeeder hands the CSV reader one physical line (or a piece of a long one)
// per Read, so that it always knows which line the CSV reader is on and how
// many bytes the current record has taken: encoding/csv would otherwise grow
// its buffers without bound on a line that never ends.
type csvFeeder struct {
	br       *bufio.Reader
	rest     []byte // what is left of the current chunk
	line     int64  // the last physical line begun
	midLine  bool   // the last chunk did not end its line
	recBytes int    // bytes of the current record handed so far
	recLine  int64  // first line of the current record, 0 before it starts
	max      int
	err      error // sticky: an overlong record, io.EOF or the reader's error
	ioErr    error // the reader's error, other than io.EOF
}

func (f *csvFeeder) startRecord() {
	f.recBytes, f.recLine = 0, 0
}

func (f *csvFeeder) Read(p []byte) (int, error) {
	if len(f.rest) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		chunk, err := f.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if err != io.EOF {
				f.ioErr = err
			}
			f.err = err
		}
		if len(chunk) == 0 {
			return 0, f.err
		}
		if !f.midLine {
			f.line++
			blank := string(chunk) == "\n" || string(chunk) == "\r\n"
			if f.recLine == 0 && !blank {
				f.recLine = f.line
			}
		}
		f.midLine = chunk[len(chunk)-1] != '\n'
		f.rest = chunk
	}
	n := copy(p, f.rest)
	if f.recLine != 0 {
		if f.recBytes+n > f.max {
			f.err = &SourceError{Line: f.recLine, Reason: fmt.Sprintf("the record is longer than %d bytes (SourceOpts.MaxRecordBytes)", f.max), format: FormatCSV}
			f.rest = nil
			return 0, f.err
		}
		f.recBytes += n
	}
	f.rest = f.rest[n:]
	return n, nil
}

// detectComma picks the delimiter of the header's first line.
func (f *csvFeeder) detectComma() (rune, error) {
	b, err := f.br.Peek(f.br.Size())
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return 0, err
	}
	b = bytes.TrimLeft(b, "\r\n")
	var comma, semi, tab int
	quoted := false
	for _, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			goto done
		case c == ',':
			comma++
		case c == ';':
			semi++
		case c == '\t':
			tab++
		}
	}
done:
	switch {
	case semi > comma && semi >= tab:
		return ';', nil
	case tab > comma && tab > semi:
		return '\t', nil
	}
	return ',', nil
}

type csvColumn struct {
	name    string
	phone   bool
	ignored bool
}

func readCSV(r io.Reader, o *SourceOpts, yield func(RecipientInput, error) bool) {
	fail := func(e *SourceError) {
		e.format = FormatCSV
		yield(RecipientInput{}, e)
	}
	br, err := newSource(r)
	if err != nil {
		yield(RecipientInput{}, readErr(err))
		return
	}
	feed := &csvFeeder{br: br, max: o.MaxRecordBytes}
	comma := o.Comma
	if comma == 0 {
		if comma, err = feed.detectComma(); err != nil {
			yield(RecipientInput{}, readErr(err))
			return
		}
	}
	cr := csv.NewReader(feed)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	// next reads the next record that has a non-blank cell.
	next := func() ([]string, error) {
		for {
			feed.startRecord()
			rec, err := cr.Read()
			if err != nil {
				var se *SourceError
				var pe *csv.ParseError
				switch {
				case err == io.EOF:
					return nil, err
				case feed.ioErr != nil:
					return nil, readErr(feed.ioErr)
				case errors.As(err, &se):
					return nil, se
				case errors.As(err, &pe):
					reason := fmt.Sprintf("%v (byte %d of the line)", pe.Err, pe.Column)
					if pe.StartLine != pe.Line {
						reason = fmt.Sprintf("%v (byte %d of the line, in the record that starts on line %d)", pe.Err, pe.Column, pe.StartLine)
					}
					return nil, &SourceError{Line: int64(pe.Line), Reason: reason, Err: err, format: FormatCSV}
				}
				return nil, readErr(err)
			}
			for _, c := range rec {
				if !isBlank(c) {
					return rec, nil
				}
			}
		}
	}
	lineOf := func(field int) int64 {
		line, _ := cr.FieldPos(field)
		return int64(line)
	}

	header, err := next()
	if err == io.EOF {
		fail(&SourceError{Reason: "the CSV is empty; its first row must be a header naming the phone column and the variables"})
		return
	}
	if err != nil {
		yield(RecipientInput{}, err)
		return
	}
	headerLine := lineOf(0)
	match := newPhoneMatcher(o.PhoneColumn)
	cols := make([]csvColumn, len(header))
	seen := make(map[string]int, len(header))
	phoneCol, nvars := -1, 0
	for i, h := range header {
		name := strings.TrimSpace(h)
		switch {
		case !utf8.ValidString(name):
			fail(&SourceError{Line: headerLine, Reason: fmt.Sprintf("header cell %d is not valid UTF-8; save the file as \"CSV UTF-8\"", i+1)})
			return
		case strings.ContainsAny(name, "\r\n"):
			fail(&SourceError{Line: headerLine, Column: name, Reason: "a header name has a line break; if the file has old Mac (CR-only) line endings, save it again as \"CSV UTF-8\""})
			return
		case len(name) > o.MaxValueBytes:
			fail(&SourceError{Line: headerLine, Reason: fmt.Sprintf("header cell %d is longer than %d bytes (SourceOpts.MaxValueBytes)", i+1, o.MaxValueBytes)})
			return
		case name == "":
			cols[i].ignored = true
			continue
		}
		if j, dup := seen[name]; dup {
			fail(&SourceError{Line: headerLine, Column: name, Reason: fmt.Sprintf("columns %d and %d have the same name; header names must be unique", j+1, i+1)})
			return
		}
		seen[name] = i
		cols[i].name = name
		if phoneCol < 0 && match.match(name) {
			phoneCol = i
			cols[i].phone = true
			continue
		}
		nvars++
	}
	if phoneCol < 0 {
		names := make([]string, 0, len(cols))
		for _, c := range cols {
			if !c.ignored {
				names = append(names, strconv.Quote(c.name))
			}
		}
		fail(&SourceError{Line: headerLine, Reason: fmt.Sprintf("no phone column among the headers %s; the first row must be a header: %s", strings.Join(names, ", "), match.hint())})
		return
	}
	if nvars > o.MaxVariables {
		fail(&SourceError{Line: headerLine, Reason: fmt.Sprintf("%d variable columns, more than %d (SourceOpts.MaxVariables)", nvars, o.MaxVariables)})
		return
	}

	var count int64
	for {
		rec, err := next()
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(RecipientInput{}, err)
			return
		}
		line := lineOf(0)
		if count >= o.MaxRecipients {
			fail(&SourceError{Line: line, Reason: fmt.Sprintf("more than %d recipients (SourceOpts.MaxRecipients); split the upload", o.MaxRecipients)})
			return
		}
		in := RecipientInput{Line: line}
		if nvars > 0 {
			in.Variables = make(map[string]string, nvars)
		}
		for i, cell := range rec {
			if i >= len(cols) || cols[i].ignored {
				if !isBlank(cell) {
					fail(&SourceError{Line: lineOf(i), Reason: fmt.Sprintf("cell %d is not empty but its column has no header name; name the column or empty it", i+1)})
					return
				}
				continue
			}
			c := cols[i]
			if !utf8.ValidString(cell) {
				fail(&SourceError{Line: lineOf(i), Column: c.name, Reason: "the value is not valid UTF-8; save the file as \"CSV UTF-8\""})
				return
			}
			if len(cell) > o.MaxValueBytes {
				fail(&SourceError{Line: lineOf(i), Column: c.name, Reason: fmt.Sprintf("the value is longer than %d bytes (SourceOpts.MaxValueBytes)", o.MaxValueBytes)})
				return
			}
			if c.phone {
				in.Phone = cell
			} else {
				in.Variables[c.name] = cell
			}
		}
		for i := len(rec); i < len(cols); i++ {
			if c := cols[i]; !c.ignored && !c.phone {
				in.Variables[c.name] = ""
			}
		}
		count++
		if !yield(in, nil) {
			return
		}
	}
}

// ---- NDJSON ----

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
