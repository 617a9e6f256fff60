package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a fetch follows; the next one fails it.
const MaxRedirects = 3

// The sentences a user reads. They never name the resolved address or how a connection failed on
// it: an error that said "connection refused" for one internal port and "timed out" for another
// would make the server a port scanner for whoever may send a message.
const (
	reasonInternal         = "points to an address the server does not fetch from (loopback, private, link-local, unique-local, CGNAT, multicast, unspecified or reserved); WECOMFLOW_FETCH_ALLOW opens ranges"
	reasonRedirectInternal = "redirects to an address the server does not fetch from (loopback, private, link-local, unique-local, CGNAT, multicast, unspecified or reserved); WECOMFLOW_FETCH_ALLOW opens ranges"
	reasonScheme           = "must be an http or https URL"
	reasonRedirectScheme   = "redirects to a URL that is not http or https"
)

// Sentinel causes, found with errors.Is on an *Error.
var (
	// ErrInternalAddress: the address dialed is one the server does not fetch from.
	ErrInternalAddress = errors.New("fetch: internal address refused")
	// ErrTooLarge: the response body is longer than Request.MaxBytes.
	ErrTooLarge = errors.New("fetch: response body too large")
	// ErrTooManyRedirects: more than MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("fetch: too many redirects")
	errRedirectScheme   = errors.New("fetch: redirect to a scheme other than http or https")
)

// Options configure a Fetcher.
type Options struct {
	// Allow opens ranges the fetcher otherwise refuses (WECOMFLOW_FETCH_ALLOW): tests serving
	// files on loopback, a sandbox, an intranet file server the operator means to reach.
	Allow []netip.Prefix
	// IdleConnsPerHost is how many idle connections to one host are kept for reuse (default 2):
	// event hooks post many small requests to few receivers.
	IdleConnsPerHost int
}

// Fetcher fetches URLs given by users. It is safe for concurrent use and keeps connections to the
// hosts it has reached for reuse; build one per process and share it.
type Fetcher struct {
	allow     []netip.Prefix
	transport *http.Transport
}

// New builds a Fetcher.
func New(o Options) *Fetcher {
	f := &Fetcher{allow: normalizeAllow(o.Allow)}
	if o.IdleConnsPerHost <= 0 {
		o.IdleConnsPerHost = 2
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: f.checkDial}
	f.transport = &http.Transport{
		// Never a proxy: it would connect to the target itself, past the address check.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           max(16, o.IdleConnsPerHost),
		MaxIdleConnsPerHost:    o.IdleConnsPerHost,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return f
}

// checkDial runs after the host name is resolved, just before each connection attempt, with the
// address actually dialed: the check a rebinding name cannot slip past.
func (f *Fetcher) checkDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !f.permits(ap.Addr()) {
		return ErrInternalAddress
	}
	return nil
}

// permits reports whether the fetcher may connect to a.
func (f *Fetcher) permits(a netip.Addr) bool {
	a = normal(a)
	if inAny(f.allow, a) {
		return true
	}
	if v4, ok := embeddedV4(a); ok && inAny(f.allow, v4) {
		return true
	}
	return !internal(a)
}

// Check judges a URL before it is stored for later fetches (an event hook's target): it must be
// http or https and its host must resolve only to addresses the fetcher may connect to. Every
// fetch checks the address it dials again, so a name that changes its answer later gains nothing;
// this only tells the user at once. Failures are *Error, Refused when the URL is not acceptable.
func (f *Fetcher) Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		if err == nil {
			err = fmt.Errorf("scheme %q, host %q", u.Scheme, u.Host)
		}
		return &Error{Refused: true, Reason: reasonScheme, Err: err}
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return failure(err, false)
	}
	for _, a := range addrs {
		if !f.permits(a) {
			return &Error{Refused: true, Reason: reasonInternal, Err: fmt.Errorf("%s: %w", a, ErrInternalAddress)}
		}
	}
	return nil
}

// Request is one fetch.
type Request struct {
	// Method defaults to GET.
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Timeout bounds the whole fetch: connecting, redirects and reading the body. Required.
	Timeout time.Duration
	// MaxBytes is the longest response body taken; a longer one is ErrTooLarge. Required.
	MaxBytes int64
	// NoRedirects answers a redirect as it is instead of following it (event hooks count a 3xx
	// as a failed attempt).
	NoRedirects bool
}

// Response is what a fetch got.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body is read only for a 2xx answer; other answers have none.
	Body []byte
	// URL is where the answer came from, after redirects.
	URL *url.URL
}

// Error is a fetch that did not happen or did not finish.
type Error struct {
	// Refused means nothing was fetched from the URL it names: it is not http or https, or it
	// (or a redirect) points to an address the server does not fetch from.
	Refused bool
	// Reason is a sentence for the user who gave the URL, safe to show: "timed out", or for a
	// refusal one that completes the URL's field ("points to an address …").
	Reason string
	// Err is the cause, for the log: it may name the address dialed.
	Err error
}

func (e *Error) Error() string { return "fetch: " + e.Reason + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Do fetches r. Every failure is an *Error, except a Request without its Timeout or MaxBytes (a
// bug of the caller's). An answer of any status is a Response.
func (f *Fetcher) Do(ctx context.Context, r Request) (*Response, error) {
	if r.Timeout <= 0 || r.MaxBytes <= 0 {
		return nil, fmt.Errorf("fetch: a request needs a Timeout and MaxBytes")
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if err == nil {
			err = fmt.Errorf("scheme %q, host %q", u.Scheme, u.Host)
		}
		return nil, &Error{Refused: true, Reason: reasonScheme, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return nil, &Error{Refused: true, Reason: reasonScheme, Err: err}
	}
	if r.Header != nil {
		req.Header = r.Header.Clone()
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "wecomflow")
	}
	redirected := false
	client := &http.Client{Transport: f.transport, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		switch {
		case r.NoRedirects:
			return http.ErrUseLastResponse
		case len(via) > MaxRedirects:
			return ErrTooManyRedirects
		case next.URL.Scheme != "http" && next.URL.Scheme != "https":
			return errRedirectScheme
		}
		// The next hop's address is checked when it is dialed, like the first one's.
		redirected = true
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, failure(err, redirected)
	}
	defer resp.Body.Close()
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, URL: resp.Request.URL}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, nil
	}
	tooLarge := &Error{Reason: fmt.Sprintf("is larger than %d bytes", r.MaxBytes), Err: ErrTooLarge}
	if resp.ContentLength > r.MaxBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.MaxBytes+1))
	if err != nil {
		return nil, failure(err, redirected)
	}
	if int64(len(body)) > r.MaxBytes {
		return nil, tooLarge
	}
	out.Body = body
	return out, nil
}

// failure turns what the HTTP client returned into an Error whose Reason tells the user what they
// can act on and nothing about the network behind the server.
func failure(err error, redirected bool) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL is the user's own; the log gets the cause without it (a signed URL's query is a
		// credential).
		err = ue.Err
	}
	var netErr net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	switch {
	case errors.Is(err, ErrInternalAddress) && redirected:
		return &Error{Refused: true, Reason: reasonRedirectInternal, Err: err}
	case errors.Is(err, ErrInternalAddress):
		return &Error{Refused: true, Reason: reasonInternal, Err: err}
	case errors.Is(err, errRedirectScheme):
		return &Error{Refused: true, Reason: reasonRedirectScheme, Err: err}
	case errors.Is(err, ErrTooManyRedirects):
		return &Error{Reason: fmt.Sprintf("more than %d redirects", MaxRedirects), Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &Error{Reason: "timed out", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Reason: "was canceled", Err: err}
	case errors.As(err, &dnsErr):
		return &Error{Reason: "its host name does not resolve", Err: err}
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return &Error{Reason: "its TLS certificate is not valid", Err: err}
	}
	return &Error{Reason: "the connection failed", Err: err}
}
