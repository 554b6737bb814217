package campaign

// TEMPORARY: replaced by source.go when it lands.

import (
	"encoding/csv"
	"io"
	"iter"
)

type RecipientInput struct {
	Phone     string            `json:"phone"`
	Variables map[string]string `json:"variables,omitempty"`
	Line      int64             `json:"-"`
}

type Format string

const FormatCSV Format = "csv"

type SourceOpts struct{}

func ReadRecipients(r io.Reader, f Format, opts *SourceOpts) iter.Seq2[RecipientInput, error] {
	return func(yield func(RecipientInput, error) bool) {
		cr := csv.NewReader(r)
		head, err := cr.Read()
		if err != nil {
			yield(RecipientInput{}, err)
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
				yield(RecipientInput{}, err)
				return
			}
			in := RecipientInput{Line: line, Variables: map[string]string{}}
			for i, h := range head {
				if h == "phone" {
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
