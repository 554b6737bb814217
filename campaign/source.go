package campaign

import (
	"bufio"
	"bytes"
	"cmp"
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
