package campaign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// fuzzOpts are tight limits, so that fuzzing reaches them with short inputs.
var fuzzOpts = &SourceOpts{MaxRecipients: 20, MaxRecordBytes: 200, MaxValueBytes: 24, MaxVariables: 3}

// checkSource reads data and checks what every reader promises: no panic, at
// most one error and nothing after it, errors that are *SourceError wrapping
// ErrInvalidRecipients, recipients within the limits, with a line, in valid
// UTF-8, and the same outcome however the input is split into reads.
func checkSource(t *testing.T, data []byte, f Format, small bool) {
	whole, wholeErr := checkRead(t, bytes.NewReader(data), f, small)
	split, splitErr := checkRead(t, iotest.OneByteReader(bytes.NewReader(data)), f, small)
	if diff := cmp.Diff(whole, split); diff != "" {
		t.Fatalf("read byte by byte, the recipients differ (-whole +split):\n%s", diff)
	}
	if fmt.Sprint(wholeErr) != fmt.Sprint(splitErr) {
		t.Fatalf("read byte by byte, the error differs:\n%v\n%v", wholeErr, splitErr)
	}
}

func checkRead(t *testing.T, r io.Reader, f Format, small bool) ([]RecipientInput, error) {
	opts := (*SourceOpts)(nil)
	if small {
		opts = fuzzOpts
	}
	o := opts.WithDefaults()
	var n int64
	var prev int64
	var failed error
	var got []RecipientInput
	for in, err := range ReadRecipients(r, f, opts) {
		if failed != nil {
			t.Fatalf("yielded after the error %v", failed)
		}
		if err != nil {
			failed = err
			var se *SourceError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidRecipients) {
				t.Fatalf("error %v (%T) is not a *SourceError", err, err)
			}
			if se.Line < 0 || se.Reason == "" {
				t.Fatalf("bad SourceError %#v", se)
			}
			continue
		}
		n++
		if n > o.MaxRecipients {
			t.Fatalf("%d recipients, more than MaxRecipients", n)
		}
		switch {
		case in.Line <= 0:
			t.Fatalf("recipient %d has line %d", n, in.Line)
		case f == FormatJSON && in.Line != n:
			t.Fatalf("JSON recipient %d has line %d", n, in.Line)
		case in.Line <= prev:
			t.Fatalf("line %d after line %d", in.Line, prev)
		}
		prev = in.Line
		if !utf8.ValidString(in.Phone) || len(in.Phone) > o.MaxValueBytes {
			t.Fatalf("bad phone %q", in.Phone)
		}
		if len(in.Variables) > o.MaxVariables {
			t.Fatalf("%d variables", len(in.Variables))
		}
		if in.Variables != nil && len(in.Variables) == 0 {
			t.Fatalf("empty, non-nil variables")
		}
		for k, v := range in.Variables {
			if !utf8.ValidString(k) || k == "" || strings.TrimSpace(k) != k {
				t.Fatalf("bad variable name %q", k)
			}
			if !utf8.ValidString(v) || len(v) > o.MaxValueBytes {
				t.Fatalf("bad value %q of %q", v, k)
			}
		}
		got = append(got, in)
	}
	return got, failed
}

func addFuzzSeeds(f *testing.F, fixture string, seeds ...string) {
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, false)
	f.Add(data, true)
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
}

func FuzzReadCSV(f *testing.F) {
	addFuzzSeeds(f, "arabic_bom_crlf.csv",
		"phone,name\n+966501234567,Ali\n",
		"phone,name,note\n+1,\"Doe, John\",\"said \"\"hi\"\"\nthen left\"\n+2,x,y\n",
		"\ufeffالاسم,رقم الجوال\r\nعلي,+966501234567\r\n",
		"\n\nphone,name\n\n+1,a\n,\n  , \n\r\n+2,b\n\n",
		"name,phone,city\nAli\nSara,+2\n",
		"phone,,name,\n+1,,Ali,,, \n",
		"phone;name\n+1;Ali, Jr\n",
		"phone\tname\n+1\tAli\n",
		"phone,name\n+1,Al\"i\n",
		"phone,name\n+1,\"Ali\n+2,b\n",
		"phone,name\n+1,Ali,x\n",
		"phone,name\n+1,\xe3\xcd\n",
		"phone,name, name\n",
		"phone,name\r+1,Ali\r",
		"phone,a,b,c,d,e\n1,2,3,4,5,6\n",
	)
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		checkSource(t, data, FormatCSV, small)
	})
}

func FuzzReadNDJSON(f *testing.F) {
	addFuzzSeeds(f, "recipients.ndjson",
		`{"phone": "+966501234567", "variables": {"name": "Ali"}}`,
		`{"phone":"+1","name":"Ali"}`+"\n"+`{"city":"Riyadh","phone":"+2","variables":{"name":"Sara"}}`,
		`{"phone": 966501234567, "n": 1.50, "vip": true, "x": null, "variables": null}`,
		"\ufeff\r\n  \n{\"phone\":\"+1\"}\r\n\r\n{\"phone\":\"+2\"}\r\n",
		`{"mobile": "+1", "phone": "+2"}`,
		`{"phone":"+1","tags":["a"]}`,
		`{"phone":"+1","phone":"+2"}`,
		`{"phone":"+1"} {"phone":"+2"}`,
		"{\"phone\":\"+2\",\"name\":\"\xe3\xcd\"}\n",
		`{"phone":"+1","a":"1","b":"2","c":"3","variables":{"d":"4"}}`,
	)
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		checkSource(t, data, FormatNDJSON, small)
	})
}

func FuzzReadJSON(f *testing.F) {
	addFuzzSeeds(f, "recipients.json",
		`[{"phone":"+1","variables":{"name":"Ali"}}, {"phone":2,"city":"Riyadh"}]`,
		"\ufeff{\"recipients\": [\n  {\"phone\": \"+1\"}\n]}\n",
		` [ ] `,
		`{"recipients": {}}`,
		`[{"phone":"+1"}, "+2"]`,
		`[{"phone":"+1"} {"phone":"+2"}]`,
		`[{"phone":"+1"}, {"phone":`,
		`[{"phone":"+1"}] [`,
		"[{\"phone\":\"+1\"},\n{\"phone\":\"+3\",\"name\":\"\xe3\xcd\"}]",
		"[{\"phone\":\"+1\"}, \xff]",
	)
	f.Fuzz(func(t *testing.T, data []byte, small bool) {
		checkSource(t, data, FormatJSON, small)
	})
}
