package campaign

// TEMPORARY: replaced by source.go when it lands.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"strings"
)

var (
	ErrInvalidRecipients = errors.New("campaign: invalid recipients")
	ErrUnsupportedFormat = errors.New("campaign: unsupported recipient format")
)

type RecipientInput struct {
	Phone     string            `json:"phone"`
	Variables map[string]string `json:"variables,omitempty"`
	Line      int64             `json:"-"`
}

type Format string

const (
	FormatCSV    Format = "csv"
	FormatNDJSON Format = "ndjson"
	FormatJSON   Format = "json"
)

func FormatFromContentType(ct string) (Format, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("%w: Content-Type %q; send text/csv, application/x-ndjson or application/json", ErrUnsupportedFormat, ct)
	}
	switch mt {
	case "text/csv":
		return FormatCSV, nil
	case "application/x-ndjson":
		return FormatNDJSON, nil
	case "application/json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("%w: Content-Type %q; send text/csv, application/x-ndjson or application/json", ErrUnsupportedFormat, mt)
}

type SourceOpts struct {
	PhoneColumn string
}

type SourceError struct {
	Line   int64
	Column string
	Reason string
	Err    error
}

func (e *SourceError) Error() string {
	s := ErrInvalidRecipients.Error() + ": "
	if e.Line > 0 {
		s += fmt.Sprintf("line %d", e.Line)
	}
	if e.Column != "" {
		s += fmt.Sprintf(", column %q", e.Column)
	}
	return s + ": " + e.Reason
}

func (e *SourceError) Unwrap() []error { return []error{ErrInvalidRecipients, e.Err} }

func ReadRecipients(r io.Reader, f Format, opts *SourceOpts) iter.Seq2[RecipientInput, error] {
	col := "phone"
	if opts != nil && opts.PhoneColumn != "" {
		col = opts.PhoneColumn
	}
	return func(yield func(RecipientInput, error) bool) {
		if f == FormatNDJSON || f == FormatJSON {
			dec := json.NewDecoder(r)
			if f == FormatJSON {
				if _, err := dec.Token(); err != nil {
					yield(RecipientInput{}, &SourceError{Line: 1, Reason: err.Error(), Err: err})
					return
				}
			}
			for line := int64(1); dec.More(); line++ {
				var m map[string]string
				if err := dec.Decode(&m); err != nil {
					yield(RecipientInput{}, &SourceError{Line: line, Reason: err.Error(), Err: err})
					return
				}
				in := RecipientInput{Line: line, Variables: map[string]string{}}
				for k, v := range m {
					if k == col {
						in.Phone = v
					} else {
						in.Variables[k] = v
					}
				}
				if !yield(in, nil) {
					return
				}
			}
			return
		}
		cr := csv.NewReader(r)
		head, err := cr.Read()
		if err != nil {
			yield(RecipientInput{}, &SourceError{Line: 1, Reason: err.Error(), Err: err})
			return
		}
		phone := -1
		for i, h := range head {
			if strings.TrimSpace(h) == col {
				phone = i
			}
		}
		if phone < 0 {
			yield(RecipientInput{}, &SourceError{Line: 1, Column: col, Reason: "no phone column"})
			return
		}
		line := int64(1)
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			line++
			if err != nil {
				yield(RecipientInput{}, &SourceError{Line: line, Reason: err.Error(), Err: err})
				return
			}
			in := RecipientInput{Line: line, Variables: map[string]string{}}
			for i, h := range head {
				if i == phone {
					in.Phone = rec[i]
				} else {
					in.Variables[h] = rec[i]
				}
			}
			if !yield(in, nil) {
				return
			}
		}
	}
}
