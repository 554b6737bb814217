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
	// MIME is the media type. For images, videos, audio and stickers it must
	// agree with Kind. Defaults to the type sniffed from the bytes (for documents:
	// the server's Content-Type for URLs, else the file name's extension or the
	// bytes).
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
//
// The bytes must be in a format WhatsApp shows as Kind: JPEG, PNG or WebP
// images, WebP stickers, MP4 or 3GPP video, and Ogg/Opus, MP3, AAC, M4A or AMR
// audio (documents take anything). Others are refused with a [FieldError]
// wrapping ErrInvalidMessage that names the source field ("data", "path" or
// "url") and the type detected.
func (c *Core) SendMedia(ctx context.Context, session, chat string, p *MediaParams, opts *SendOpts) (*Message, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.ops.done()
	req, err := c.prepareSend(ctx, session, chat, opts)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fieldErr(ErrInvalidMessage, "media", "is required")
	}
	if req.hash, err = mediaRequestHash(req.s.id, req.jid, p); err != nil {
		return nil, err
	}
	if req.key != "" {
		// Before loading: a replay must not read the file or fetch the URL again.
		if prev, err := c.replay(ctx, req.s, req.key, req.fingerprint(req.hash)); err == nil || !errors.Is(err, ErrMessageNotFound) {
			return prev, err
		}
	}
	// Before loading too: media for a contact who opted out is not fetched.
	if err := c.checkConsent(ctx, nil, req.s.tenant, req.contact, req.consentScope(ContentDocument)); err != nil {
		return nil, consentErr(err)
	}
	m, err := c.loadMedia(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := c.checkContent(m); err != nil {
		return nil, err
	}
	return c.sendPrepared(ctx, req, m)
}

func (c *Core) loadMedia(ctx context.Context, p *MediaParams) (*Media, error) {
	if p == nil {
		return nil, fieldErr(ErrInvalidMessage, "media", "is required")
	}
	m := &Media{Caption: p.Caption, FileName: p.FileName, Kind: p.Kind, MIME: p.MIME, Voice: p.Voice}
	if err := m.validateMeta(); err != nil {
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
	source := "data"
	switch {
	case p.Data != nil:
		if int64(len(p.Data)) > limit {
			return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMediaTooLarge, len(p.Data), limit)
		}
		m.Data = p.Data
	case p.Path != "":
		source = "path"
		data, err := readFileLimited(p.Path, limit)
		if err != nil {
			return nil, err
		}
		m.Data = data
		if m.FileName == "" {
			m.FileName = filepath.Base(p.Path)
		}
	default:
		source = "url"
		data, contentType, err := c.fetchMedia(ctx, p.URL, limit)
		if err != nil {
			return nil, err
		}
		m.Data = data
		if m.MIME == "" && m.Kind == ContentDocument {
			// Other kinds take the type sniffed from the bytes below.
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
		return nil, fieldErr(ErrInvalidMessage, source, "is empty")
	}
	sniffed, err := mediaFormat(m.Kind, m.Data, source)
	if err != nil {
		return nil, err
	}
	switch {
	case m.MIME != "":
	case m.Kind == ContentDocument:
		m.MIME = detectMIME(m.Data, m.FileName)
	default:
		m.MIME = sniffed
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
			Timeout:        c.cfg.MediaFetchTimeout,
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
// the engine. Errors wrap ErrMessageNotFound, ErrInvalidMessage (not media),
// ErrMediaUnavailable (media this session sent, whose bytes are not kept once
// sent, or media WhatsApp no longer holds) or ErrUnsupported (the engine cannot
// download).
func (c *Core) DownloadMedia(ctx context.Context, session, messageID string) ([]byte, *Media, error) {
	msg, err := c.Message(ctx, session, messageID)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.session(ctx, session)
	if err != nil {
		return nil, nil, err
	}
	m, ok := msg.Content.(*Media)
	if !ok {
		return nil, nil, fieldErr(ErrInvalidMessage, "message", "%s is %s, not media", messageID, msg.Content.ContentType())
	}
	if len(m.Ref) == 0 {
		// Media this session sent has no download handle: the Core drops the
		// bytes once WhatsApp accepted them (the caller had them), and keeps no
		// media archive. Messages the account sent from another device do carry
		// one, as inbound media does.
		if msg.Direction == DirectionOut {
			return nil, nil, fmt.Errorf("%w: message %s was sent by this session, and sent media is not kept", ErrMediaUnavailable, messageID)
		}
		return nil, nil, fmt.Errorf("%w: message %s has no download reference", ErrMediaUnavailable, messageID)
	}
	d, ok := c.engine.(MediaDownloader)
	if !ok {
		return nil, nil, fmt.Errorf("%w: media download", ErrUnsupported)
	}
	if err := c.begin(); err != nil {
		return nil, nil, err
	}
	defer c.ops.done()
	data, err := d.DownloadMedia(ctx, s.key, m)
	if err != nil {
		return nil, nil, fmt.Errorf("waqtor: download media of %s: %w", messageID, err)
	}
	return data, m, nil
}
