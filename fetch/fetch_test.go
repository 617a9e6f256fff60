package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/fetch/fetchtest"
)

// fileServer is fetchtest.Server, skipping the test where addr cannot be listened on.
func fileServer(t *testing.T, addr string, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	srv, hits := fetchtest.Server(t, addr, h)
	if srv == nil {
		t.Skipf("cannot listen on %s", addr)
	}
	return srv, hits
}

func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }
}

func redirectTo(target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) }
}

func allow(t *testing.T, list string) *fetch.Fetcher {
	t.Helper()
	var ps []netip.Prefix
	for _, p := range strings.Split(list, ",") {
		ps = append(ps, netip.MustParsePrefix(strings.TrimSpace(p)))
	}
	return fetch.New(fetch.Options{Allow: ps})
}

func get(f *fetch.Fetcher, url string) (*fetch.Response, error) {
	return f.Do(context.Background(), fetch.Request{URL: url, Timeout: 10 * time.Second, MaxBytes: 1 << 20})
}

// refusal checks that err is a refusal whose sentence names no address, port or dial detail.
func refusal(t *testing.T, err error, srvURL string) *fetch.Error {
	t.Helper()
	var fe *fetch.Error
	if !errors.As(err, &fe) || !fe.Refused {
		t.Fatalf("not refused: %v", err)
	}
	host := strings.TrimPrefix(srvURL, "http://")
	for _, leak := range []string{host, "127.0.0.1", "::1", "refused", "dial", "tcp"} {
		if leak != "" && strings.Contains(fe.Reason, leak) {
			t.Errorf("the reason %q reveals %q", fe.Reason, leak)
		}
	}
	return fe
}

func TestInternalAddressesAreNotFetched(t *testing.T) {
	t.Parallel()
	inside, hits := fileServer(t, "127.0.0.1:0", answer("secret"))
	port := inside.Listener.Addr().(*net.TCPAddr).Port
	f := fetch.New(fetch.Options{})
	for _, url := range []string{
		inside.URL + "/x",
		fmt.Sprintf("http://localhost:%d/x", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/x", port),
		fmt.Sprintf("http://[::1]:%d/x", port),
		fmt.Sprintf("http://0.0.0.0:%d/x", port),
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/x",
	} {
		_, err := get(f, url)
		fe := refusal(t, err, inside.URL)
		if !errors.Is(err, fetch.ErrInternalAddress) || !strings.Contains(fe.Reason, "does not fetch from") {
			t.Errorf("%s: %v", url, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal server got %d requests", n)
	}
}

func TestOnlyHTTPAndHTTPS(t *testing.T) {
	t.Parallel()
	f := allow(t, "0.0.0.0/0, ::/0")
	for _, url := range []string{"ftp://example.com/a.png", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "//example.com/a", "http://", "not a url"} {
		_, err := get(f, url)
		if fe := refusal(t, err, ""); fe.Reason != "must be an http or https URL" {
			t.Errorf("%s: %q", url, fe.Reason)
		}
	}
}

func TestAllowedRangesAreFetched(t *testing.T) {
	t.Parallel()
	srv, hits := fileServer(t, "127.0.0.1:0", answer("hello"))
	f := allow(t, "127.0.0.0/8")
	res, err := get(f, srv.URL+"/a.txt")
	if err != nil || res.StatusCode != 200 || string(res.Body) != "hello" || res.URL.Path != "/a.txt" {
		t.Fatalf("%v %+v", err, res)
	}
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	if res, err := get(f, fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port)); err != nil || string(res.Body) != "hello" {
		t.Fatalf("mapped loopback with 127.0.0.0/8 allowed: %v", err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests", hits.Load())
	}
}

// A server the fetcher may reach cannot send it inside with a redirect.
func TestRedirectsAreCheckedAgain(t *testing.T) {
	t.Parallel()
	inside, insideHits := fileServer(t, "127.0.0.1:0", answer("secret"))
	outside, outsideHits := fileServer(t, "127.0.0.2:0", redirectTo(inside.URL+"/secret"))
	f := allow(t, "127.0.0.2/32")
	_, err := get(f, outside.URL+"/chart.png")
	fe := refusal(t, err, inside.URL)
	if !strings.HasPrefix(fe.Reason, "redirects to an address the server does not fetch from") {
		t.Errorf("reason %q", fe.Reason)
	}
	if insideHits.Load() != 0 || outsideHits.Load() != 1 {
		t.Fatalf("inside %d, outside %d requests", insideHits.Load(), outsideHits.Load())
	}
	toFile, _ := fileServer(t, "127.0.0.2:0", redirectTo("file:///etc/passwd"))
	_, err = get(f, toFile.URL)
	if fe := refusal(t, err, ""); fe.Reason != "redirects to a URL that is not http or https" {
		t.Errorf("reason %q", fe.Reason)
	}
}

func TestAtMostThreeRedirects(t *testing.T) {
	t.Parallel()
	var srv *httptest.Server
	srv, hits := fileServer(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		var n int
		_, _ = fmt.Sscanf(r.URL.Path, "/%d", &n)
		if n == 0 {
			_, _ = w.Write([]byte("done"))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("%s/%d", srv.URL, n-1), http.StatusFound)
	})
	f := allow(t, "127.0.0.0/8")
	if res, err := get(f, srv.URL+"/3"); err != nil || string(res.Body) != "done" {
		t.Fatalf("3 redirects: %v", err)
	}
	_, err := get(f, srv.URL+"/4")
	var fe *fetch.Error
	if !errors.Is(err, fetch.ErrTooManyRedirects) || !errors.As(err, &fe) || fe.Refused || fe.Reason != "more than 3 redirects" {
		t.Fatalf("4 redirects: %v", err)
	}
	if hits.Load() != 4+4 {
		t.Fatalf("%d requests", hits.Load())
	}
	res, err := f.Do(context.Background(), fetch.Request{URL: srv.URL + "/1", Timeout: time.Second, MaxBytes: 10, NoRedirects: true})
	if err != nil || res.StatusCode != http.StatusFound || res.Body != nil {
		t.Fatalf("no redirects: %v %+v", err, res)
	}
}

func TestAnswersAndLimits(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, _ := fileServer(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/big":
			_, _ = w.Write(make([]byte, 11))
		case "/big-chunked":
			w.(http.Flusher).Flush()
			_, _ = w.Write(make([]byte, 11))
		case "/exact":
			_, _ = w.Write(make([]byte, 10))
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/post":
			if r.Method == http.MethodPost && r.Header.Get("X-Test") == "1" {
				_, _ = w.Write([]byte("posted"))
			}
		}
	})
	f := allow(t, "127.0.0.0/8")
	do := func(path string, r fetch.Request) (*fetch.Response, error) {
		r.URL, r.MaxBytes = srv.URL+path, 10
		if r.Timeout == 0 {
			r.Timeout = 10 * time.Second
		}
		return f.Do(context.Background(), r)
	}
	if res, err := do("/missing", fetch.Request{}); err != nil || res.StatusCode != 404 || res.Body != nil {
		t.Errorf("404: %v %+v", err, res)
	}
	for _, path := range []string{"/big", "/big-chunked"} {
		if _, err := do(path, fetch.Request{}); !errors.Is(err, fetch.ErrTooLarge) {
			t.Errorf("%s: %v", path, err)
		}
	}
	if res, err := do("/exact", fetch.Request{}); err != nil || len(res.Body) != 10 {
		t.Errorf("exactly MaxBytes: %v", err)
	}
	var fe *fetch.Error
	if _, err := do("/slow", fetch.Request{Timeout: 50 * time.Millisecond}); !errors.As(err, &fe) || fe.Reason != "timed out" {
		t.Errorf("slow: %v", err)
	}
	if res, err := do("/post", fetch.Request{Method: http.MethodPost, Header: http.Header{"X-Test": {"1"}}, Body: []byte("{}")}); err != nil || string(res.Body) != "posted" {
		t.Errorf("post: %v %+v", err, res)
	}
	if _, err := f.Do(context.Background(), fetch.Request{URL: srv.URL}); err == nil {
		t.Error("a request without Timeout and MaxBytes was made")
	}
}

// A proxy from the environment is never used: it would reach inside on the fetcher's behalf.
func TestNoProxyFromTheEnvironment(t *testing.T) {
	proxy, proxyHits := fileServer(t, "127.0.0.1:0", answer("from the proxy"))
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	f := fetch.New(fetch.Options{Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
	// A name that does not resolve: only a proxy could answer it.
	res, err := f.Do(context.Background(), fetch.Request{URL: "http://wecomflow-fetch-test.invalid/a.png", Timeout: 5 * time.Second, MaxBytes: 100})
	if err == nil || proxyHits.Load() != 0 {
		t.Fatalf("the proxy was used: %v %+v, %d requests", err, res, proxyHits.Load())
	}
}
