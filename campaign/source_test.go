package campaign

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// readAll ranges over ReadRecipients and checks that nothing follows an error.
func readAll(t *testing.T, r io.Reader, f Format, opts *SourceOpts) ([]RecipientInput, error) {
	t.Helper()
	var got []RecipientInput
	var gotErr error
	for in, err := range ReadRecipients(r, f, opts) {
		require.NoError(t, gotErr, "the reader yielded after an error")
		if err != nil {
			require.Equal(t, RecipientInput{}, in, "an error comes with a zero recipient")
			gotErr = err
			continue
		}
		got = append(got, in)
	}
	return got, gotErr
}

// sourceCase is a table case of a reader: the recipients it yields, then the
// error, if any.
type sourceCase struct {
	in      string
	opts    *SourceOpts
	want    []RecipientInput
	wantErr *SourceError // Line and Column compared; Reason must contain wantErr.Reason
	wantIs  error        // also matched with errors.Is
}

func runSourceCases(t *testing.T, f Format, cases map[string]sourceCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := readAll(t, strings.NewReader(tc.in), f, tc.opts)
			require.Empty(t, cmp.Diff(tc.want, got), "recipients (-want +got)")
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidRecipients)
			var se *SourceError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.wantErr.Line, se.Line, "line of %v", err)
			require.Equal(t, tc.wantErr.Column, se.Column, "column of %v", err)
			require.Contains(t, se.Reason, tc.wantErr.Reason)
			if tc.wantIs != nil {
				require.ErrorIs(t, err, tc.wantIs)
			}
		})
	}
}

func vars(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestReadRecipientsCSV(t *testing.T) {
	t.Parallel()
	bareQuote := "phone,name\n+1,a\n+2,b\n+3,c\n+4,d\n+5,e\n+6,Al\"i\n"
	runSourceCases(t, FormatCSV, map[string]sourceCase{
		"basic": {
			in:   "phone,name\n+966501234567,Ali\n",
			want: []RecipientInput{{Phone: "+966501234567", Variables: vars("name", "Ali"), Line: 2}},
		},
		"only a phone column": {
			in:   "phone\n+1\n+2",
			want: []RecipientInput{{Phone: "+1", Line: 2}, {Phone: "+2", Line: 3}},
		},
		"quotes, embedded delimiters, quotes and newlines": {
			in: "phone,name,note\n+1,\"Doe, John\",\"said \"\"hi\"\"\nthen left\"\n+2,x,y\n",
			want: []RecipientInput{
				{Phone: "+1", Variables: vars("name", "Doe, John", "note", "said \"hi\"\nthen left"), Line: 2},
				{Phone: "+2", Variables: vars("name", "x", "note", "y"), Line: 4},
			},
		},
		"CRLF": {
			in: "phone,name\r\n+1,Ali\r\n+2,\"Sara\r\nLee\"\r\n",
			want: []RecipientInput{
				{Phone: "+1", Variables: vars("name", "Ali"), Line: 2},
				{Phone: "+2", Variables: vars("name", "Sara\nLee"), Line: 3},
			},
		},
		"BOM before a quoted header": {
			in:   "\ufeff\"phone\",\"name\"\n+1,Ali\n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali"), Line: 2}},
		},
		"Arabic headers and values": {
			in:   "\ufeffالاسم,رقم الجوال\r\nعلي,+966501234567\r\n",
			want: []RecipientInput{{Phone: "+966501234567", Variables: vars("الاسم", "علي"), Line: 2}},
		},
		"Arabic phone header with an underscore": {
			in:   "رقم_الهاتف,الاسم\n+1,سارة\n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("الاسم", "سارة"), Line: 2}},
		},
		"empty lines and blank rows skipped": {
			in: "\n\nphone,name\n\n+1,a\n,\n  , \n\r\n+2,b\n\n",
			want: []RecipientInput{
				{Phone: "+1", Variables: vars("name", "a"), Line: 5},
				{Phone: "+2", Variables: vars("name", "b"), Line: 9},
			},
		},
		"header names trimmed, values kept as written": {
			in:   " Phone Number , Name \n +1 , Ali \n",
			want: []RecipientInput{{Phone: " +1 ", Variables: vars("Name", " Ali "), Line: 2}},
		},
		"phone column found anywhere, first match wins": {
			in:   "name,Mobile,tel\nAli,+1,+2\n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali", "tel", "+2"), Line: 2}},
		},
		"PhoneColumn chosen": {
			in:   "phone,contact\n+1,+2\n",
			opts: &SourceOpts{PhoneColumn: "CONTACT"},
			want: []RecipientInput{{Phone: "+2", Variables: vars("phone", "+1"), Line: 2}},
		},
		"fewer cells give empty values": {
			in: "name,phone,city\nAli\nSara,+2\n",
			want: []RecipientInput{
				{Phone: "", Variables: vars("name", "Ali", "city", ""), Line: 2},
				{Phone: "+2", Variables: vars("name", "Sara", "city", ""), Line: 3},
			},
		},
		"empty phone still yielded": {
			in:   "phone,name\n,Ali\n",
			want: []RecipientInput{{Phone: "", Variables: vars("name", "Ali"), Line: 2}},
		},
		"empty extra cells and unnamed empty columns ignored": {
			in:   "phone,,name,\n+1,,Ali,,, \n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali"), Line: 2}},
		},
		"semicolons detected": {
			in:   "phone;name\n+1;Ali, Jr\n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali, Jr"), Line: 2}},
		},
		"tabs detected": {
			in:   "\nphone\tname\n+1\tAli; Jr\n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali; Jr"), Line: 3}},
		},
		"delimiters inside quoted header names do not count": {
			in:   "phone,\"a;b;c\"\n+1,x\n",
			want: []RecipientInput{{Phone: "+1", Variables: vars("a;b;c", "x"), Line: 2}},
		},
		"Comma given": {
			in:   "phone|name\n+1|a,b;c\n",
			opts: &SourceOpts{Comma: '|'},
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "a,b;c"), Line: 2}},
		},
		"header only": {
			in: "phone,name\r\n",
		},
		"exactly MaxRecipients": {
			in:   "phone\n+1\n+2\n",
			opts: &SourceOpts{MaxRecipients: 2},
			want: []RecipientInput{{Phone: "+1", Line: 2}, {Phone: "+2", Line: 3}},
		},

		"empty": {
			in:      "",
			wantErr: &SourceError{Reason: "the CSV is empty"},
		},
		"only blank lines": {
			in:      "\n\r\n,,\n",
			wantErr: &SourceError{Reason: "the CSV is empty"},
		},
		"no phone column": {
			in:      "name,city\nAli,Riyadh\n",
			wantErr: &SourceError{Line: 1, Reason: `no phone column among the headers "name", "city"`},
		},
		"no header row": {
			in:      "+966501234567,Ali\n",
			wantErr: &SourceError{Line: 1, Reason: `the first row must be a header`},
		},
		"PhoneColumn missing": {
			in:      "phone,name\n+1,a\n",
			opts:    &SourceOpts{PhoneColumn: "contact"},
			wantErr: &SourceError{Line: 1, Reason: `SourceOpts.PhoneColumn is "contact"`},
		},
		"duplicate headers": {
			in:      "phone,name, name\n+1,a,b\n",
			wantErr: &SourceError{Line: 1, Column: "name", Reason: "columns 2 and 3 have the same name"},
		},
		"bare quote on line 7": {
			in:      bareQuote,
			want:    []RecipientInput{{Phone: "+1", Variables: vars("name", "a"), Line: 2}, {Phone: "+2", Variables: vars("name", "b"), Line: 3}, {Phone: "+3", Variables: vars("name", "c"), Line: 4}, {Phone: "+4", Variables: vars("name", "d"), Line: 5}, {Phone: "+5", Variables: vars("name", "e"), Line: 6}},
			wantErr: &SourceError{Line: 7, Reason: `bare " in non-quoted-field`},
			wantIs:  csv.ErrBareQuote,
		},
		"unterminated quote": {
			in:      "phone,name\n+1,\"Ali\n+2,b\n",
			wantErr: &SourceError{Line: 3, Reason: "in the record that starts on line 2"},
			wantIs:  csv.ErrQuote,
		},
		"text after a closing quote": {
			in:      "phone,name\n+1,\"Ali\"x\n",
			wantErr: &SourceError{Line: 2, Reason: `extraneous or missing " in quoted-field`},
			wantIs:  csv.ErrQuote,
		},
		"extra non-empty cell": {
			in:      "phone,name\n+1,Ali\n+2,Sara,oops\n",
			want:    []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali"), Line: 2}},
			wantErr: &SourceError{Line: 3, Reason: "cell 3 is not empty but its column has no header name"},
		},
		"value under an unnamed column": {
			in:      "phone,,name\n+1,x,Ali\n",
			wantErr: &SourceError{Line: 2, Reason: "cell 2 is not empty"},
		},
		"invalid UTF-8 value": {
			in:      "phone,name\n+1,\"a\nb\xff\"\n",
			wantErr: &SourceError{Line: 2, Column: "name", Reason: "not valid UTF-8"},
		},
		"Windows-1256 Arabic": {
			in:      "phone,name\n+1,\xe3\xcd\xe3\xcf\n",
			wantErr: &SourceError{Line: 2, Column: "name", Reason: `save the file as "CSV UTF-8"`},
		},
		"invalid UTF-8 header": {
			in:      "phone,\xe3\xcd\n",
			wantErr: &SourceError{Line: 1, Reason: "header cell 2 is not valid UTF-8"},
		},
		"CR-only line endings": {
			in:      "phone,name\r+1,Ali\r+2,Sara\r",
			wantErr: &SourceError{Line: 1, Column: "name\r+1", Reason: "CR-only"},
		},
		"more than MaxRecipients": {
			in:      "phone\n+1\n\n+2\n+3\n",
			opts:    &SourceOpts{MaxRecipients: 2},
			want:    []RecipientInput{{Phone: "+1", Line: 2}, {Phone: "+2", Line: 4}},
			wantErr: &SourceError{Line: 5, Reason: "more than 2 recipients"},
		},
		"record longer than MaxRecordBytes": {
			in:      "phone,name\n+1,short\n\n+2,\"" + strings.Repeat("x\n", 20) + "\"\n",
			opts:    &SourceOpts{MaxRecordBytes: 32},
			want:    []RecipientInput{{Phone: "+1", Variables: vars("name", "short"), Line: 2}},
			wantErr: &SourceError{Line: 4, Reason: "longer than 32 bytes (SourceOpts.MaxRecordBytes)"},
		},
		"value longer than MaxValueBytes": {
			in:      "phone,name\n+1,abcde\n+2,abcdef\n",
			opts:    &SourceOpts{MaxValueBytes: 5},
			want:    []RecipientInput{{Phone: "+1", Variables: vars("name", "abcde"), Line: 2}},
			wantErr: &SourceError{Line: 3, Column: "name", Reason: "longer than 5 bytes"},
		},
		"more than MaxVariables": {
			in:      "phone,a,b\n+1,x,y\n",
			opts:    &SourceOpts{MaxVariables: 1},
			wantErr: &SourceError{Line: 1, Reason: "2 variable columns, more than 1"},
		},
	})
}

func TestReadRecipientsNDJSON(t *testing.T) {
	t.Parallel()
	runSourceCases(t, FormatNDJSON, map[string]sourceCase{
		"nested variables": {
			in:   `{"phone": "+966501234567", "variables": {"name": "Ali"}}` + "\n",
			want: []RecipientInput{{Phone: "+966501234567", Variables: vars("name", "Ali"), Line: 1}},
		},
		"flat and mixed": {
			in: `{"phone":"+1","name":"Ali"}` + "\n" + `{"city":"Riyadh","phone":"+2","variables":{"name":"Sara"}}`,
			want: []RecipientInput{
				{Phone: "+1", Variables: vars("name", "Ali"), Line: 1},
				{Phone: "+2", Variables: vars("name", "Sara", "city", "Riyadh"), Line: 2},
			},
		},
		"numbers, booleans and null": {
			in:   `{"phone": 966501234567, "n": 1.50, "vip": true, "x": null, "variables": null}`,
			want: []RecipientInput{{Phone: "966501234567", Variables: vars("n", "1.50", "vip", "true", "x", ""), Line: 1}},
		},
		"phone null or empty still yielded": {
			in:   `{"phone": null}` + "\n" + `{"phone": ""}`,
			want: []RecipientInput{{Line: 1}, {Line: 2}},
		},
		"blank lines, CRLF and BOM": {
			in:   "\ufeff\r\n  \n{\"phone\":\"+1\"}\r\n\r\n{\"phone\":\"+2\"}\r\n",
			want: []RecipientInput{{Phone: "+1", Line: 3}, {Phone: "+2", Line: 5}},
		},
		"Arabic field names": {
			in:   `{"رقم الجوال": "+1", "الاسم": "علي"}`,
			want: []RecipientInput{{Phone: "+1", Variables: vars("الاسم", "علي"), Line: 1}},
		},
		"phone wins over another phone name": {
			in:   `{"mobile": "+1", "phone": "+2"}`,
			want: []RecipientInput{{Phone: "+2", Variables: vars("mobile", "+1"), Line: 1}},
		},
		"PhoneColumn chosen": {
			in:   `{"phone": "+1", "contact": "+2"}`,
			opts: &SourceOpts{PhoneColumn: "Contact"},
			want: []RecipientInput{{Phone: "+2", Variables: vars("phone", "+1"), Line: 1}},
		},
		"names trimmed": {
			in:   `{" phone ": "+1", " name": "Ali "}`,
			want: []RecipientInput{{Phone: "+1", Variables: vars("name", "Ali "), Line: 1}},
		},
		"escapes and white space": {
			in:   ` { "phone" : "\u002b1" , "na\"me" : "a\/b\n\u0639\u0644\u064a" , "variables" : { } } `,
			want: []RecipientInput{{Phone: "+1", Variables: vars(`na"me`, "a/b\nعلي"), Line: 1}},
		},
		"numbers as written": {
			in:   `{"phone":-1.5e+3,"n":0}`,
			want: []RecipientInput{{Phone: "-1.5e+3", Variables: vars("n", "0"), Line: 1}},
		},
		"empty": {in: ""},
		"empty object": {
			in:      `{}`,
			wantErr: &SourceError{Line: 1, Reason: "no phone field (found no fields)"},
		},
		"scalar line": {
			in:      `"+1"`,
			wantErr: &SourceError{Line: 1, Reason: `expected a recipient object, found the string "+1"`},
		},
		"boolean phone": {
			in:   `{"phone":true}`,
			want: []RecipientInput{{Phone: "true", Line: 1}},
		},

		"invalid JSON": {
			in:      `{"phone":"+1"}` + "\n" + `{"phone": +2}`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "invalid JSON"},
		},
		"truncated object": {
			in:      `{"phone":"+1"`,
			wantErr: &SourceError{Line: 1, Reason: "the JSON ends early"},
			wantIs:  io.ErrUnexpectedEOF,
		},
		"not an object": {
			in:      `["+1"]`,
			wantErr: &SourceError{Line: 1, Reason: "expected a recipient object, found an array"},
		},
		"nested value": {
			in:      `{"phone":"+1","tags":["a"]}`,
			wantErr: &SourceError{Line: 1, Column: "tags", Reason: "found an array; values must be strings"},
		},
		"nested value in variables": {
			in:      `{"phone":"+1","variables":{"a":{"b":1}}}`,
			wantErr: &SourceError{Line: 1, Column: "a", Reason: "found an object"},
		},
		"variables not an object": {
			in:      `{"phone":"+1","variables":"x"}`,
			wantErr: &SourceError{Line: 1, Column: "variables", Reason: "expected an object of variables"},
		},
		"phone not a scalar": {
			in:      `{"phone":{"n":"+1"}}`,
			wantErr: &SourceError{Line: 1, Column: "phone", Reason: "found an object"},
		},
		"no phone field": {
			in:      `{"phnoe":"+1","name":"Ali"}`,
			wantErr: &SourceError{Line: 1, Reason: `no phone field (found fields "phnoe", "name")`},
		},
		"duplicate field": {
			in:      `{"phone":"+1","name":"a","variables":{"name":"b"}}`,
			wantErr: &SourceError{Line: 1, Column: "name", Reason: "given twice"},
		},
		"duplicate phone": {
			in:      `{"phone":"+1","phone":"+2"}`,
			wantErr: &SourceError{Line: 1, Column: "phone", Reason: "given twice"},
		},
		"empty field name": {
			in:      `{"phone":"+1"," ":"x"}`,
			wantErr: &SourceError{Line: 1, Reason: "empty name"},
		},
		"two values on a line": {
			in:      `{"phone":"+1"} {"phone":"+2"}`,
			wantErr: &SourceError{Line: 1, Reason: "unexpected data after the JSON object"},
		},
		"invalid UTF-8": {
			in:      "{\"phone\":\"+1\"}\n{\"phone\":\"+2\",\"name\":\"\xe3\xcd\"}\n",
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "not valid UTF-8"},
		},
		"line longer than MaxRecordBytes": {
			in:      `{"phone":"+1"}` + "\n" + `{"phone":"+2","name":"` + strings.Repeat("x", 40) + `"}`,
			opts:    &SourceOpts{MaxRecordBytes: 32},
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "longer than 32 bytes"},
		},
		"more than MaxRecipients": {
			in:      "{\"phone\":\"+1\"}\n\n{\"phone\":\"+2\"}\n",
			opts:    &SourceOpts{MaxRecipients: 1},
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 3, Reason: "more than 1 recipients"},
		},
		"more than MaxVariables": {
			in:      `{"phone":"+1","a":"1","variables":{"b":"2"}}`,
			opts:    &SourceOpts{MaxVariables: 1},
			wantErr: &SourceError{Line: 1, Reason: "more than 1 variables"},
		},
		"value longer than MaxValueBytes": {
			in:      `{"phone":"+1","name":"abcdef"}`,
			opts:    &SourceOpts{MaxValueBytes: 5},
			wantErr: &SourceError{Line: 1, Column: "name", Reason: "longer than 5 bytes"},
		},
	})
}

func TestReadRecipientsJSON(t *testing.T) {
	t.Parallel()
	runSourceCases(t, FormatJSON, map[string]sourceCase{
		"array": {
			in: `[{"phone":"+1","variables":{"name":"Ali"}}, {"phone":2,"city":"Riyadh"}]`,
			want: []RecipientInput{
				{Phone: "+1", Variables: vars("name", "Ali"), Line: 1},
				{Phone: "2", Variables: vars("city", "Riyadh"), Line: 2},
			},
		},
		"wrapped with BOM": {
			in:   "\ufeff{\"recipients\": [\n  {\"phone\": \"+1\"}\n]}\n",
			want: []RecipientInput{{Phone: "+1", Line: 1}},
		},
		"empty array": {in: " [ ] "},

		"empty": {
			in:      " ",
			wantErr: &SourceError{Reason: "the upload is empty"},
		},
		"not an array": {
			in:      `"+1"`,
			wantErr: &SourceError{Reason: `expected a JSON array of recipients or {"recipients": [...]}, found the string "+1"`},
		},
		"object without recipients": {
			in:      `{"phone": "+1"}`,
			wantErr: &SourceError{Reason: `found an object with the string "phone"`},
		},
		"recipients not an array": {
			in:      `{"recipients": {}}`,
			wantErr: &SourceError{Reason: `expected an array after "recipients", found an object`},
		},
		"element not an object": {
			in:      `[{"phone":"+1"}, "+2"]`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: `expected a recipient object, found the string "+2"`},
		},
		"missing comma": {
			in:      `[{"phone":"+1"} {"phone":"+2"}]`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "invalid JSON at byte"},
		},
		"unclosed array": {
			in:      `[{"phone":"+1"}`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Reason: "the JSON ends early"},
		},
		"truncated element": {
			in:      `[{"phone":"+1"}, {"phone":`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "the JSON ends early"},
		},
		"data after the array": {
			in:      `[{"phone":"+1"}] [`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Reason: "unexpected an array after the recipients"},
		},
		"field error names the recipient": {
			in:      `[{"phone":"+1"}, {"phone":"+2", "x": [1]}]`,
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Column: "x", Reason: "found an array"},
		},
		"invalid UTF-8 in the third recipient": {
			in:      "[{\"phone\":\"+1\"},\n{\"phone\":\"+2\"},\n{\"phone\":\"+3\",\"name\":\"\xe3\xcd\"},\n{\"phone\":\"+4\"}]",
			want:    []RecipientInput{{Phone: "+1", Line: 1}, {Phone: "+2", Line: 2}},
			wantErr: &SourceError{Line: 3, Reason: "not valid UTF-8"},
		},
		"invalid UTF-8 outside strings": {
			in:      "[{\"phone\":\"+1\"}, \xff]",
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "not valid UTF-8"},
		},
		"invalid UTF-8 after the array": {
			in:      "[{\"phone\":\"+1\"}] \xff",
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Reason: "not valid UTF-8"},
		},
		"recipient longer than MaxRecordBytes": {
			in:      `[{"phone":"+1"},{"phone":"+2","name":"` + strings.Repeat("x", 40) + `"}]`,
			opts:    &SourceOpts{MaxRecordBytes: 32},
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "longer than 32 bytes"},
		},
		"more than MaxRecipients": {
			in:      `[{"phone":"+1"},{"phone":"+2"}]`,
			opts:    &SourceOpts{MaxRecipients: 1},
			want:    []RecipientInput{{Phone: "+1", Line: 1}},
			wantErr: &SourceError{Line: 2, Reason: "more than 1 recipients"},
		},
	})
}

// TestReadRecipientsFixtures reads the same three recipients from a CSV saved
// by a spreadsheet (BOM, CRLF, Arabic), an NDJSON file and a JSON file.
func TestReadRecipientsFixtures(t *testing.T) {
	t.Parallel()
	want := []RecipientInput{
		{Phone: "+966501234567", Variables: vars("الاسم", "علي", "المدينة", "الرياض")},
		{Phone: "+20 100 123 4567", Variables: vars("الاسم", "سارة \"الأولى\"", "المدينة", "القاهرة، مصر")},
		{Phone: "971501234567", Variables: vars("الاسم", "محمد\nبن زايد", "المدينة", "دبي")},
	}
	for file, tc := range map[string]struct {
		format Format
		lines  []int64
	}{
		"arabic_bom_crlf.csv": {FormatCSV, []int64{2, 3, 5}},
		"recipients.ndjson":   {FormatNDJSON, []int64{1, 3, 4}},
		"recipients.json":     {FormatJSON, []int64{1, 2, 3}},
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join("testdata", file))
			require.NoError(t, err)
			t.Cleanup(func() { _ = f.Close() })
			got, err := readAll(t, f, tc.format, nil)
			require.NoError(t, err)
			var lines []int64
			for _, in := range got {
				lines = append(lines, in.Line)
			}
			require.Equal(t, tc.lines, lines)
			require.Empty(t, cmp.Diff(want, got, cmpopts.IgnoreFields(RecipientInput{}, "Line")))
		})
	}
}

// rowReader generates a CSV, NDJSON or JSON upload of rows recipients on the
// fly, counting the bytes read, so tests and benchmarks never hold it in
// memory. rows < 0 never ends.
type rowReader struct {
	format Format
	rows   int64
	row    int64 // rows generated; -1 once the closing bytes are out
	buf    []byte
	off    int
	begun  bool
	n      int64 // bytes read
}

func (g *rowReader) fill(want int) {
	if g.off > 0 {
		g.buf = g.buf[:copy(g.buf, g.buf[g.off:])]
		g.off = 0
	}
	if !g.begun {
		g.begun = true
		switch g.format {
		case FormatCSV:
			g.buf = append(g.buf, "phone,name,city\r\n"...)
		case FormatJSON:
			g.buf = append(g.buf, '[')
		}
	}
	for len(g.buf) < want && g.row >= 0 {
		if g.rows >= 0 && g.row >= g.rows {
			if g.format == FormatJSON {
				g.buf = append(g.buf, ']')
			}
			g.row = -1
			return
		}
		g.row++
		switch g.format {
		case FormatCSV:
			g.buf = append(g.buf, "+9665"...)
			g.buf = strconv.AppendInt(g.buf, 10_000_000+g.row, 10)
			g.buf = append(g.buf, ",Customer "...)
			g.buf = strconv.AppendInt(g.buf, g.row, 10)
			g.buf = append(g.buf, ",Riyadh\r\n"...)
		default:
			if g.format == FormatJSON && g.row > 1 {
				g.buf = append(g.buf, ',')
			}
			g.buf = append(g.buf, `{"phone":"+9665`...)
			g.buf = strconv.AppendInt(g.buf, 10_000_000+g.row, 10)
			g.buf = append(g.buf, `","name":"Customer `...)
			g.buf = strconv.AppendInt(g.buf, g.row, 10)
			g.buf = append(g.buf, `","city":"Riyadh"}`+"\n"...)
		}
	}
}

func (g *rowReader) Read(p []byte) (int, error) {
	if len(g.buf)-g.off < len(p) {
		g.fill(len(p))
	}
	if len(g.buf) == g.off {
		return 0, io.EOF
	}
	n := copy(p, g.buf[g.off:])
	g.off += n
	g.n += int64(n)
	return n, nil
}

// endless is a reader that repeats a prefix once and then a byte forever.
type endless struct {
	prefix []byte
	b      byte
	n      int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = e.b
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadRecipientsBreakStopsReading(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatCSV, FormatNDJSON, FormatJSON} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			g := &rowReader{format: f, rows: -1}
			var got int
			for in, err := range ReadRecipients(g, f, nil) {
				require.NoError(t, err)
				require.Positive(t, in.Line)
				got++
				if got == 3 {
					break
				}
			}
			require.Equal(t, 3, got)
			require.Less(t, g.n, int64(64<<10), "read far past the recipients taken")
		})
	}
}

// TestReadRecipientsEndlessRecord feeds a record that never ends: the readers
// stop near MaxRecordBytes instead of reading it all into memory.
func TestReadRecipientsEndlessRecord(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		format Format
		prefix string
		b      byte
		line   int64
	}{
		"CSV line":          {FormatCSV, "phone,name\n+1,a\n+2,", 'x', 3},
		"CSV quoted lines":  {FormatCSV, "phone,name\n+1,\"", '\n', 2},
		"NDJSON line":       {FormatNDJSON, `{"phone":"+1"}` + "\n" + `{"phone":"`, 'x', 2},
		"JSON string":       {FormatJSON, `[{"phone":"+1"},{"phone":"`, 'x', 2},
		"JSON whitespace":   {FormatJSON, `[{"phone":"+1"}`, ' ', 2},
		"CSV before header": {FormatCSV, "", 'x', 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := &endless{prefix: []byte(tc.prefix), b: tc.b}
			_, err := readAll(t, e, tc.format, &SourceOpts{MaxRecordBytes: 1 << 10})
			var se *SourceError
			require.ErrorAs(t, err, &se)
			require.Contains(t, se.Reason, "longer than 1024 bytes")
			if tc.format == FormatJSON && tc.b == ' ' {
				require.Zero(t, se.Line) // trailing space after the last element
			} else {
				require.Equal(t, tc.line, se.Line)
			}
			require.Less(t, e.n, int64(128<<10), "read %d bytes of an endless record", e.n)
		})
	}
}

func TestReadRecipientsMaxRecipientsStopsEndlessUpload(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatCSV, FormatNDJSON, FormatJSON} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			g := &rowReader{format: f, rows: -1}
			got, err := readAll(t, g, f, &SourceOpts{MaxRecipients: 1000})
			require.Len(t, got, 1000)
			var se *SourceError
			require.ErrorAs(t, err, &se)
			require.Contains(t, se.Reason, "more than 1000 recipients")
			require.Less(t, g.n, int64(200<<10))
		})
	}
}

func TestReadRecipientsReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, f := range []Format{FormatCSV, FormatNDJSON, FormatJSON} {
		for name, r := range map[string]func() io.Reader{
			"at once": func() io.Reader { return iotest.ErrReader(boom) },
			"midway": func() io.Reader {
				return io.MultiReader(&rowReader{format: f, rows: 2}, iotest.ErrReader(boom))
			},
			"midway, byte by byte": func() io.Reader {
				return iotest.OneByteReader(io.MultiReader(&rowReader{format: f, rows: 2}, iotest.ErrReader(boom)))
			},
		} {
			t.Run(string(f)+" "+name, func(t *testing.T) {
				t.Parallel()
				_, err := readAll(t, r(), f, nil)
				require.ErrorIs(t, err, boom)
				require.NotErrorIs(t, err, ErrInvalidRecipients, "a read error is not a malformed upload")
			})
		}
	}
}

// TestReadRecipientsSmallReads reads each fixture one byte at a time, and
// with reads that fail with a timeout, to check the readers do not depend on
// how the input is split.
func TestReadRecipientsSmallReads(t *testing.T) {
	t.Parallel()
	for file, f := range map[string]Format{
		"arabic_bom_crlf.csv": FormatCSV,
		"recipients.ndjson":   FormatNDJSON,
		"recipients.json":     FormatJSON,
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", file))
			require.NoError(t, err)
			want, err := readAll(t, bytes.NewReader(data), f, nil)
			require.NoError(t, err)
			for name, r := range map[string]io.Reader{
				"one byte": iotest.OneByteReader(bytes.NewReader(data)),
				"half":     iotest.HalfReader(bytes.NewReader(data)),
				"data+EOF": iotest.DataErrReader(bytes.NewReader(data)),
			} {
				got, err := readAll(t, r, f, nil)
				require.NoError(t, err, name)
				require.Empty(t, cmp.Diff(want, got), name)
			}
		})
	}
}

func TestReadRecipientsBadArguments(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		format Format
		opts   *SourceOpts
		want   error
		msg    string
	}{
		"unknown format":         {"xlsx", nil, ErrUnsupportedFormat, `"xlsx"`},
		"quote as Comma":         {FormatCSV, &SourceOpts{Comma: '"'}, ErrInvalidSourceOpts, "Comma"},
		"newline as Comma":       {FormatCSV, &SourceOpts{Comma: '\n'}, ErrInvalidSourceOpts, "Comma"},
		"negative MaxRecipients": {FormatCSV, &SourceOpts{MaxRecipients: -1}, ErrInvalidSourceOpts, "MaxRecipients is -1"},
		"MaxRecipients too high": {FormatJSON, &SourceOpts{MaxRecipients: MaxRecipientsLimit + 1}, ErrInvalidSourceOpts, "MaxRecipients"},
		"MaxRecordBytes":         {FormatNDJSON, &SourceOpts{MaxRecordBytes: -1}, ErrInvalidSourceOpts, "MaxRecordBytes"},
		"MaxRecordBytes too high": {FormatNDJSON, &SourceOpts{MaxRecordBytes: MaxRecordBytesLimit + 1},
			ErrInvalidSourceOpts, "MaxRecordBytes"},
		"MaxValueBytes":       {FormatCSV, &SourceOpts{MaxValueBytes: -1}, ErrInvalidSourceOpts, "MaxValueBytes"},
		"MaxVariables":        {FormatCSV, &SourceOpts{MaxVariables: -1}, ErrInvalidSourceOpts, "MaxVariables"},
		"PhoneColumn garbled": {FormatCSV, &SourceOpts{PhoneColumn: "\xff"}, ErrInvalidSourceOpts, "PhoneColumn"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := &rowReader{format: FormatCSV, rows: 3}
			got, err := readAll(t, r, tc.format, tc.opts)
			require.Empty(t, got)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), tc.msg)
			require.Zero(t, r.n, "nothing is read with bad arguments")
		})
	}
	t.Run("nil reader", func(t *testing.T) {
		t.Parallel()
		_, err := readAll(t, nil, FormatCSV, nil)
		require.ErrorContains(t, err, "needs a reader")
	})
}

func TestSourceOptsWithDefaults(t *testing.T) {
	t.Parallel()
	require.Equal(t, &SourceOpts{
		MaxRecipients:  MaxRecipientsDefault,
		MaxRecordBytes: MaxRecordBytesDefault,
		MaxValueBytes:  MaxValueBytesDefault,
		MaxVariables:   MaxVariablesDefault,
	}, (*SourceOpts)(nil).WithDefaults())
	o := &SourceOpts{MaxRecipients: 5, PhoneColumn: "tel"}
	d := o.WithDefaults()
	require.Equal(t, &SourceOpts{MaxRecipients: 5, PhoneColumn: "tel"}, o, "the caller's opts are not changed")
	require.Equal(t, int64(5), d.MaxRecipients)
	require.Equal(t, MaxRecordBytesDefault, d.MaxRecordBytes)
}

func TestFormatFromContentType(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]Format{
		"text/csv":                       FormatCSV,
		"text/csv; charset=utf-8":        FormatCSV,
		"Text/CSV; charset=UTF-8":        FormatCSV,
		"application/vnd.ms-excel":       FormatCSV,
		"application/x-ndjson":           FormatNDJSON,
		"application/jsonl":              FormatNDJSON,
		"application/x-jsonlines":        FormatNDJSON,
		"application/json":               FormatJSON,
		"application/json; charset=utf8": FormatJSON,
	} {
		got, err := FormatFromContentType(ct)
		require.NoError(t, err, ct)
		require.Equal(t, want, got, ct)
	}
	for ct, msg := range map[string]string{
		"":                                 "no Content-Type",
		"text/plain":                       `"text/plain"`,
		"text/csv; charset=windows-1256":   `charset "windows-1256"`,
		"application/json; charset=latin1": "must be UTF-8",
		"text/csv; charset":                "Content-Type",
		"multipart/form-data; boundary=x":  "multipart/form-data",
	} {
		_, err := FormatFromContentType(ct)
		require.ErrorIs(t, err, ErrUnsupportedFormat, ct)
		require.ErrorContains(t, err, msg, ct)
	}
}

func TestSourceErrorMessage(t *testing.T) {
	t.Parallel()
	for want, err := range map[string]*SourceError{
		`campaign: invalid recipients: line 7: bare " in non-quoted field`:           {Line: 7, Reason: `bare " in non-quoted field`, format: FormatCSV},
		`campaign: invalid recipients: line 2, column "name": too long`:              {Line: 2, Column: "name", Reason: "too long", format: FormatCSV},
		`campaign: invalid recipients: line 2, field "name": too long`:               {Line: 2, Column: "name", Reason: "too long", format: FormatNDJSON},
		`campaign: invalid recipients: recipient 3, field "x": found an array`:       {Line: 3, Column: "x", Reason: "found an array", format: FormatJSON},
		`campaign: invalid recipients: the CSV is empty`:                             {Reason: "the CSV is empty", format: FormatCSV},
		`campaign: invalid recipients: column "name": columns 2 and 3 have the same`: {Column: "name", Reason: "columns 2 and 3 have the same", format: FormatCSV},
	} {
		require.EqualError(t, err, want)
	}
	inner := errors.New("inner")
	err := error(&SourceError{Reason: "x", Err: inner})
	require.ErrorIs(t, err, inner)
	require.ErrorIs(t, err, ErrInvalidRecipients)
}

func TestNormName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Phone Number ": "phone_number",
		"PHONE--number":  "phone_number",
		"_phone_":        "phone",
		"رقم  الجوال":    "رقم_الجوال",
		"":               "",
	} {
		require.Equal(t, want, normName(in), in)
	}
}

func ExampleReadRecipients() {
	upload := "\ufeffرقم الجوال,الاسم\r\n+966501234567,علي\r\n+201001234567,\"Sara, \"\"the first\"\"\"\r\n"
	for in, err := range ReadRecipients(strings.NewReader(upload), FormatCSV, nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(in.Line, in.Phone, in.Variables["الاسم"])
	}

	bad := "phone,name\n+966501234567,Al\"i\n"
	for _, err := range ReadRecipients(strings.NewReader(bad), FormatCSV, nil) {
		fmt.Println(err)
	}
	// Output:
	// 2 +966501234567 علي
	// 3 +201001234567 Sara, "the first"
	// campaign: invalid recipients: line 2: bare " in non-quoted-field (byte 17 of the line)
}
