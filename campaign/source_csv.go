package campaign

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

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
