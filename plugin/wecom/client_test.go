package wecom

import (
	"context"
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
