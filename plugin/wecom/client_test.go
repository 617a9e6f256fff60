package wecom

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// Three instances (client sets with stores of their own on one database) asking for a token at
// once make one gettoken between them; after WeCom invalidates it, one more. SQLite serves one
// instance, so there the three share one client set.
func TestGettokenOncePerAppAcrossInstances(t *testing.T) {
	t.Parallel()
	sim := wecomtest.New(wecomtest.Options{Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	dsn := storetest.DSN(t)
	app := App{AuthenticatorID: 1, CorpID: demo.CorpID, AgentID: demo.AgentID, Secret: demo.Secret}
	var clients []*Client
	shared := NewClients(storetest.OpenDSN(t, dsn), ClientsOptions{APIBase: hs.URL})
	for range 3 {
		cs := shared
		if !strings.HasPrefix(dsn, "sqlite") {
			cs = NewClients(storetest.OpenDSN(t, dsn), ClientsOptions{APIBase: hs.URL})
		}
		clients = append(clients, cs.Client(app))
	}
	ask := func() map[string]bool {
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := clients[i%3].Token(context.Background())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				seen[tok] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		return seen
	}
	if seen := ask(); len(seen) != 1 || sim.Calls("gettoken") != 1 {
		t.Fatalf("%d tokens, %d gettoken calls; want 1 and 1", len(seen), sim.Calls("gettoken"))
	}
	// WeCom rejects the token: every instance drops it, one fetches the next.
	rejected, _ := clients[0].Token(context.Background())
	for _, c := range clients {
		c.invalidate(context.Background(), rejected)
	}
	if seen := ask(); len(seen) != 1 || sim.Calls("gettoken") != 2 {
		t.Fatalf("after invalidation: %d tokens, %d gettoken calls; want 1 and 2", len(seen), sim.Calls("gettoken"))
	}
}

// countingTransport counts the requests it carries, by path.
type countingTransport struct {
	mu    sync.Mutex
	paths map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// gettoken goes through the configured transport like every other call (an egress proxy or a
// pinned transport must see it too), and a failed one never shows the secret.
func TestGettokenUsesTheConfiguredTransport(t *testing.T) {
	t.Parallel()
	sim := wecomtest.New(wecomtest.Options{Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	tr := &countingTransport{paths: map[string]int{}}
	cs := NewClients(storetest.Open(t, storetest.Options{}), ClientsOptions{APIBase: hs.URL, Transport: tr})
	if err := cs.Client(App{AuthenticatorID: 1, CorpID: demo.CorpID, AgentID: demo.AgentID, Secret: demo.Secret}).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.paths["/cgi-bin/gettoken"] != 1 {
		t.Fatalf("the transport carried %v", tr.paths)
	}
	down := NewClients(storetest.Open(t, storetest.Options{}), ClientsOptions{APIBase: "http://127.0.0.1:1", Transport: tr})
	err := down.Client(App{AuthenticatorID: 2, CorpID: demo.CorpID, Secret: "SECRET-never-shown"}).Check(context.Background())
	if err == nil || strings.Contains(err.Error(), "SECRET-never-shown") || strings.Contains(Reason(err), "SECRET") {
		t.Fatalf("an unreachable gettoken: %v", err)
	}
}
