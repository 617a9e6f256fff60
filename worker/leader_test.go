package worker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
)

// Of three instances campaigning at once exactly one leads; when it stops (and resigns), another
// takes over; a leader that dies without resigning is replaced once its lease has lapsed.
func TestOneLeaderAtATime(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	if strings.HasPrefix(dsn, "sqlite") {
		t.Skip("SQLite serves one instance; the election is tested on MySQL (WECOMFLOW_TEST_MYSQL_DSN)")
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	owners := []string{"a", "b", "c"}
	var electors []*Elector
	for _, o := range owners {
		electors = append(electors, NewElector(storetest.OpenDSN(t, dsn, storetest.Options{Now: clock}), "scheduler", o, time.Minute, log))
	}
	campaign := func() (leaders []string) {
		var wg sync.WaitGroup
		for _, e := range electors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := e.store.TryLead(context.Background(), e.name, e.owner, e.ttl)
				if err != nil {
					t.Error(err)
				}
				e.leading.Store(ok)
			}()
		}
		wg.Wait()
		for _, e := range electors {
			if e.Leading() {
				leaders = append(leaders, e.owner)
			}
		}
		return leaders
	}
	first := campaign()
	if len(first) != 1 {
		t.Fatalf("leaders %v, want one", first)
	}
	if again := campaign(); len(again) != 1 || again[0] != first[0] {
		t.Fatalf("renewal changed the leader: %v then %v", first, again)
	}
	// The leader shuts down cleanly: it resigns, the next campaign elects another.
	var leader *Elector
	for _, e := range electors {
		if e.owner == first[0] {
			leader = e
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	leader.leading.Store(true)
	leader.Run(ctx)
	electors = slicesWithout(electors, leader)
	second := campaign()
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("after the leader resigned: %v", second)
	}
	// That one dies silently: nobody else leads until its lease lapses.
	electors = slicesWithout(electors, electors[indexOf(electors, second[0])])
	if l := campaign(); len(l) != 0 {
		t.Fatalf("took over a live lease: %v", l)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if l := campaign(); len(l) != 1 {
		t.Fatalf("after the lease lapsed: %v", l)
	}
}

func indexOf(es []*Elector, owner string) int {
	for i, e := range es {
		if e.owner == owner {
			return i
		}
	}
	return -1
}

func slicesWithout(es []*Elector, drop *Elector) []*Elector {
	var out []*Elector
	for _, e := range es {
		if e != drop {
			out = append(out, e)
		}
	}
	return out
}
