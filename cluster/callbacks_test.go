//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// TestClusterCallbackConnections opens 1,000 connections at once — each its own client, no
// keep-alive — spread over 3 instances, each posting one valid encrypted callback (a text a
// member sent the app). Every answer must be a 200; the latency percentiles are reported.
func TestClusterCallbackConnections(t *testing.T) {
	const conns = 1000
	c := newCluster(t, clusterOptions{instances: 3})
	c.setUp()
	now := time.Now().Unix()
	xmls := make([]string, conns)
	for i := range xmls {
		xmls[i] = wecomtest.TextMessageXML(c.demo.CorpID, c.demo.AgentID, c.demo.UserIDs[i%len(c.demo.UserIDs)],
			fmt.Sprintf("connection %d", i), 9_000_000_000+int64(i), now)
	}
	type result struct {
		status  int
		latency time.Duration
		err     error
	}
	results := make([]result, conns)
	var ready, done sync.WaitGroup
	startLine := make(chan struct{})
	for i := 0; i < conns; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			caller := c.caller(c.instances[i%len(c.instances)], client)
			ready.Done()
			<-startLine
			t0 := time.Now()
			status, _, err := caller.Post(context.Background(), xmls[i])
			results[i] = result{status: status, latency: time.Since(t0), err: err}
		}()
	}
	ready.Wait()
	start := time.Now()
	close(startLine)
	done.Wait()
	wall := time.Since(start)

	var lat []time.Duration
	bad := map[string]int{}
	for i, r := range results {
		in := c.instances[i%len(c.instances)]
		in.statsMu.Lock()
		if r.err == nil {
			in.byStatus[r.status]++
		}
		in.statsMu.Unlock()
		switch {
		case r.err != nil:
			bad[r.err.Error()]++
		case r.status != http.StatusOK:
			bad[fmt.Sprintf("HTTP %d", r.status)]++
		default:
			lat = append(lat, r.latency)
		}
		if (r.err != nil || r.status != http.StatusOK) && len(bad) <= 5 {
			t.Logf("connection %d to instance %d: %d %v", i, i%len(c.instances), r.status, r.err)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return percentile(lat, p).Round(time.Millisecond) }
	t.Logf("%d concurrent connections over %d instances: %d answered 200 in %s (%.0f/s); latency p50 %s, p90 %s, p99 %s, max %s",
		conns, len(c.instances), len(lat), wall.Round(time.Millisecond), float64(len(lat))/wall.Seconds(),
		pct(0.50), pct(0.90), pct(0.99), pct(1))
	if len(bad) > 0 {
		t.Errorf("answers other than 200: %v", bad)
	}
	// Each was stored once and is processed.
	err := waitFor(2*time.Minute, 500*time.Millisecond, func() (bool, error) {
		all, err := c.total("/api/v1/callback-events?pageSize=1&kind=app")
		if err != nil {
			return false, err
		}
		processed, err := c.total("/api/v1/callback-events?pageSize=1&kind=app&status=processed")
		return err == nil && all == conns && processed == conns, fmt.Errorf("%d stored, %d processed (%v)", all, processed, err)
	})
	if err != nil {
		t.Errorf("callbacks: %v", err)
	}
	c.checkHTTP()
}
