package waqtor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/waqtor/waqtor/internal/netguard"
)

// MediaParams describes outbound media for SendMedia. Exactly one of Data, Path
// and URL must be set.
type MediaParams struct {
	// Caption is shown under images, videos and documents.
	Caption string
	// Data is the media's bytes.
	Data []byte
	// FileName is shown for documents. Defaults to the base name of Path or URL.
	FileName string
	// Kind is ContentImage, ContentVideo, ContentAudio, ContentDocument or
	// ContentSticker. Required.
	Kind ContentType
	// MIME is the media type. Defaults to the type detected from the bytes (or the
	// server's Content-Type for URLs).
	MIME string
	// Path is a local file to read.
	Path string
	// URL is an http(s) URL to download. It is fetched through an SSRF guard:
	// loopback, private, link-local, metadata and other reserved addresses are
	// refused (checked on the address actually dialled) unless allowed by
	// Config.MediaAllowCIDRs; redirects are not followed; size and time are
	// bounded by Config.MaxMediaBytes and Config.MediaFetchTimeout.
	URL string
	// Voice marks audio as a voice note.
	Voice bool
}

// SendMedia sends an image, video, audio clip, document or sticker read from
// bytes, a file or a URL. Errors wrap ErrMediaTooLarge or ErrMediaFetch besides
// those of Send.
func (c *Core) SendMedia(ctx context.Context, session, chat string, p *MediaParams, opts *SendOpts) (*Message, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	m, err := c.loadMedia(ctx, p)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, session, chat, m, opts)
}

func (c *Core) loadMedia(ctx context.Context, p *MediaParams) (*Media, error) {
	if p == nil {
		return nil, fieldErr(ErrInvalidMessage, "media", "is required")
	}
	m := &Media{Caption: p.Caption, FileName: p.FileName, Kind: p.Kind, MIME: p.MIME, Voice: p.Voice}
	if err := (&Media{Kind: p.Kind, Data: []byte{0}}).validate(); err != nil {
		return nil, err
	}
	sources := 0
	for _, set := range []bool{p.Data != nil, p.Path != "", p.URL != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, fieldErr(ErrInvalidMessage, "media", "needs exactly one of data, path and url")
	}
	limit := c.cfg.MaxMediaBytes
	switch {
	case p.Data != nil:
		if int64(len(p.Data)) > limit {
			return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMediaTooLarge, len(p.Data), limit)
		}
		m.Data = p.Data
	case p.Path != "":
		data, err := readFileLimited(p.Path, limit)
		if err != nil {
			return nil, err
		}
		m.Data = data
		if m.FileName == "" {
			m.FileName = filepath.Base(p.Path)
		}
	default:
		data, contentType, err := c.fetchMedia(ctx, p.URL, limit)
		if err != nil {
			return nil, err
		}
		m.Data = data
		if m.MIME == "" {
			if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt != "application/octet-stream" {
				m.MIME = mt
			}
		}
		if m.FileName == "" {
			if u, err := url.Parse(p.URL); err == nil {
				if base := path.Base(u.Path); base != "/" && base != "." {
					m.FileName = base
				}
			}
		}
	}
	if len(m.Data) == 0 {
		return nil, fieldErr(ErrInvalidMessage, "media", "is empty")
	}
	if m.MIME == "" {
		m.MIME = detectMIME(m.Data, m.FileName)
	}
	m.Size = int64(len(m.Data))
	return m, nil
}

func readFileLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMediaFetch, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMediaFetch, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMediaFetch, p)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%w: %s has %d bytes, the limit is %d", ErrMediaTooLarge, p, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMediaFetch, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s grew past %d bytes", ErrMediaTooLarge, p, limit)
	}
	return data, nil
}

func (c *Core) fetchMedia(ctx context.Context, rawURL string, limit int64) ([]byte, string, error) {
	client, err := c.mediaClient()
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.MediaFetchTimeout)
	defer cancel()
	res, err := netguard.Fetch(ctx, client, rawURL, limit)
	switch {
	case errors.Is(err, netguard.ErrTooLarge):
		return nil, "", fmt.Errorf("%w: %s: %w", ErrMediaTooLarge, redactURL(rawURL), err)
	case err != nil:
		return nil, "", fmt.Errorf("%w: %w", ErrMediaFetch, err)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return nil, "", fmt.Errorf("%w: %s answered HTTP %d", ErrMediaFetch, redactURL(rawURL), res.StatusCode)
	}
	return res.Body, res.Header.Get("Content-Type"), nil
}

// mediaClient returns the SSRF-guarded HTTP client for media URLs, built once.
func (c *Core) mediaClient() (*http.Client, error) {
	c.mediaOnce.Do(func() {
		c.mediaHTTP, c.mediaErr = netguard.NewClient(&netguard.Config{
			AllowCIDRs:     c.cfg.MediaAllowCIDRs,
			AllowCIDRsName: "waqtor Config.MediaAllowCIDRs",
			Timeout:    c.cfg.MediaFetchTimeout,
		})
		if c.mediaErr != nil {
			c.mediaErr = fmt.Errorf("%w: MediaAllowCIDRs: %w", ErrConfig, c.mediaErr)
		}
	})
	return c.mediaHTTP, c.mediaErr
}

// redactURL drops the query and credentials of a URL for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func detectMIME(data []byte, name string) string {
	if ext := strings.ToLower(filepath.Ext(name)); ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			if mt, _, err := mime.ParseMediaType(t); err == nil {
				return mt
			}
		}
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	return mt
}

// DownloadMedia returns the bytes of an inbound media message, fetched through
// the engine. Errors wrap ErrMessageNotFound, ErrInvalidMessage (not media) or
// ErrUnsupported (the engine cannot download).
func (c *Core) DownloadMedia(ctx context.Context, session, messageID string) ([]byte, *Media, error) {
	msg, err := c.Message(ctx, session, messageID)
	if err != nil {
		return nil, nil, err
	}
	m, ok := msg.Content.(*Media)
	if !ok {
		return nil, nil, fieldErr(ErrInvalidMessage, "message", "%s is %s, not media", messageID, msg.Content.ContentType())
	}
	d, ok := c.engine.(MediaDownloader)
	if !ok {
		return nil, nil, fmt.Errorf("%w: media download", ErrUnsupported)
	}
	if err := c.begin(); err != nil {
		return nil, nil, err
	}
	defer c.ops.done()
	data, err := d.DownloadMedia(ctx, session, m)
	if err != nil {
		return nil, nil, fmt.Errorf("waqtor: download media of %s: %w", messageID, err)
	}
	return data, m, nil
}
