package netguard

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
)

// LimitReader returns a Reader that reads from r but returns at most maxBytes
// bytes; if r has more, the read that crosses the limit returns the bytes up to
// it and a *TooLargeError (matching [ErrTooLarge]) instead of silently
// truncating like io.LimitReader. A negative maxBytes is treated as 0.
func LimitReader(r io.Reader, maxBytes int64) io.Reader {
	return &limitedReader{r: r, left: max(maxBytes, 0), limit: max(maxBytes, 0)}
}

type limitedReader struct {
	err   error
	left  int64
	limit int64
	r     io.Reader
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	// Ask for one byte more than allowed, to tell "exactly at the limit" from
	// "over it" without a separate probe read.
	if want := l.left + 1; l.left < math.MaxInt64 && int64(len(p)) > want {
		p = p[:want]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		n = int(l.left)
		l.left = 0
		l.err = &TooLargeError{Limit: l.limit}
		return n, l.err
	}
	l.left -= int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

// LimitBody returns a reader for resp.Body that yields at most maxBytes of
// decoded content. A gzip Content-Encoding is decoded and the limit applies to
// the decoded bytes, so a small gzip bomb fails after maxBytes with bounded
// memory; identity bodies whose Content-Length already exceeds maxBytes fail
// before reading. Other encodings are refused. Reading past the limit returns a
// *TooLargeError.
//
// To receive gzip, the caller sets "Accept-Encoding: gzip" itself (the guarded
// transport does not). Closing the returned reader closes resp.Body; on error
// the caller still owns resp.Body. resp is not modified: its Content-Encoding
// and Content-Length still describe the wire bytes.
func LimitBody(resp *http.Response, maxBytes int64) (io.ReadCloser, error) {
	encodings := resp.Header.Values("Content-Encoding")
	enc := ""
	switch len(encodings) {
	case 0:
	case 1:
		enc = strings.ToLower(strings.TrimSpace(encodings[0]))
	default:
		return nil, fmt.Errorf("netguard: %d Content-Encoding headers; only a single gzip is decoded", len(encodings))
	}
	switch enc {
	case "", "identity":
		if resp.ContentLength > maxBytes {
			return nil, &TooLargeError{Limit: maxBytes}
		}
		return &readCloser{Reader: LimitReader(resp.Body, maxBytes), close: resp.Body.Close}, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("netguard: gzip body: %w", err)
		}
		return &readCloser{
			Reader: LimitReader(zr, maxBytes),
			close:  func() error { return errors.Join(zr.Close(), resp.Body.Close()) },
		}, nil
	default:
		return nil, fmt.Errorf("netguard: unsupported Content-Encoding %q; only gzip is decoded", enc)
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (rc *readCloser) Close() error { return rc.close() }

// FetchResult is a response read by [Fetch].
type FetchResult struct {
	// Body is the decoded body, at most the limit passed to Fetch.
	Body []byte

	// Header is the response header as received; Content-Encoding and
	// Content-Length describe the wire bytes, not Body.
	Header http.Header

	// StatusCode is the HTTP status. Fetch returns every non-3xx status with a
	// nil error; checking it is the caller's job.
	StatusCode int
}

// Fetch GETs rawURL with client and reads the body through [LimitBody], asking
// for gzip and capping the decoded size at maxBytes. client should come from
// [NewClient] or [Policy.Client]; with any other client, Fetch only bounds the
// body and guards nothing else.
//
// A 3xx response returns a *RedirectError (matching [ErrRedirect]) and no
// result. A body over maxBytes returns a *TooLargeError (matching
// [ErrTooLarge]). A refused destination returns an error matching [ErrBlocked],
// [ErrScheme] or [ErrInvalidURL].
func Fetch(ctx context.Context, client *http.Client, rawURL string, maxBytes int64) (*FetchResult, error) {
	if client == nil {
		return nil, errors.New("netguard: Fetch needs a client; create one with NewClient")
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("netguard: Fetch maxBytes must be positive, got %d", maxBytes)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // a *url.Error naming the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		return nil, &RedirectError{Location: resp.Header.Get("Location"), StatusCode: resp.StatusCode}
	}
	body, err := LimitBody(resp, maxBytes)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("netguard: read body: %w", err)
	}
	return &FetchResult{Body: data, Header: resp.Header, StatusCode: resp.StatusCode}, nil
}
