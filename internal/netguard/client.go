package netguard

import (
	"errors"
	"net/http"
	"time"
)

// Transport returns a new http.Transport that connects only through
// [Policy.DialContext], ignores proxy environment variables (Proxy is nil, so
// HTTP_PROXY cannot route requests around the guard), applies the Config
// timeouts and MaxResponseHeaderBytes, and does not ask for or decode gzip
// (DisableCompression), because transparent decoding would defeat a body cap:
// read gzip bodies through [LimitBody] instead.
//
// The transport alone does not refuse redirects or check URL schemes; prefer
// [Policy.Client]. Callers may tune other fields but must not replace
// DialContext, DialTLSContext or Proxy.
func (p *Policy) Transport() *http.Transport {
	return &http.Transport{
		DialContext:            p.DialContext,
		DisableCompression:     true,
		ExpectContinueTimeout:  time.Second,
		ForceAttemptHTTP2:      true,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxResponseHeaderBytes: p.cfg.MaxResponseHeaderBytes,
		Proxy:                  nil,
		ResponseHeaderTimeout:  p.cfg.ResponseHeaderTimeout,
		TLSClientConfig:        p.cfg.TLSClientConfig.Clone(),
		TLSHandshakeTimeout:    p.cfg.TLSHandshakeTimeout,
	}
}

// Client returns a new http.Client that:
//   - checks each request URL without DNS (scheme, userinfo, host form, port,
//     IP literals) before sending it;
//   - connects only through [Policy.Transport], so every connection is checked
//     at dial time, whatever DNS answers by then;
//   - never follows redirects: Do returns the 3xx response itself (CheckRedirect
//     returns http.ErrUseLastResponse), and [Fetch] turns it into a
//     *RedirectError;
//   - gives up after Config.Timeout.
//
// The client is safe for concurrent use. Call CloseIdleConnections when done
// with it.
func (p *Policy) Client() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       p.cfg.Timeout,
		Transport:     &guardTransport{policy: p, next: p.Transport()},
	}
}

// NewClient is NewPolicy(cfg) followed by [Policy.Client]. It returns an error
// only for an invalid cfg.
func NewClient(cfg *Config) (*http.Client, error) {
	p, err := NewPolicy(cfg)
	if err != nil {
		return nil, err
	}
	return p.Client(), nil
}

// guardTransport checks each request's URL before handing it on.
type guardTransport struct {
	next   *http.Transport
	policy *Policy
}

func (g *guardTransport) CloseIdleConnections() { g.next.CloseIdleConnections() }

func (g *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var err error
	if req.URL == nil {
		err = errors.New("netguard: request has no URL")
	} else {
		_, err = g.policy.checkURL(req.URL)
	}
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, err
	}
	return g.next.RoundTrip(req)
}
