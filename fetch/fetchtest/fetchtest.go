// Package fetchtest serves files to the tests of the fetcher and of the server: an HTTP server on a
// chosen loopback address that counts the requests it gets, which proves a refused URL was never
// fetched.
package fetchtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Server serves h on addr ("127.0.0.1:0", "127.0.0.2:0", "[::1]:0") until the test ends and
// counts the requests it gets. It is nil when addr cannot be listened on (127.0.0.2 and ::1 are
// missing on some machines); 127.0.0.1 always can.
func Server(t testing.TB, addr string, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := &atomic.Int64{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if addr == "127.0.0.1:0" {
			t.Fatal(err)
		}
		return nil, hits
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, hits
}
