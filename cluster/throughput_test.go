//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// throughput is what one measurement gave.
type throughput struct {
	instances          int
	accepted, perSec   float64 // messages/s accepted; messages/s accepted-to-delivered
	elapsed, accepting time.Duration
	cpu                string
}

// TestClusterThroughput sends the same 5,000 single-recipient messages to 1 instance and then to
// 3 (each on a fresh database and simulator), as fast as 32 clients spread round-robin over the
// instances can post them, and reports delivered messages/s of each and the ratio — twice: with
// the instances sharing the machine's cores with the database, the simulator and the clients, and
// with each instance held to cappedCores (as if each ran on a small machine of its own; skipped
// where cgroups cannot be written). The CPU each process used is reported with the numbers, to say
// what bounds them.
func TestClusterThroughput(t *testing.T) {
	const messages = 5000
	for _, cfg := range []struct {
		name string
		cpu  float64
	}{{"shared cores", 0}, {fmt.Sprintf("%.2g core each", cappedCores), cappedCores}} {
		var results []throughput
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("cpu=%g/instances=%d", cfg.cpu, n), func(t *testing.T) {
				results = append(results, measureThroughput(t, clusterOptions{instances: n, members: 2000, cpu: cfg.cpu}, messages))
			})
		}
		if len(results) != 2 {
			continue
		}
		one, three := results[0], results[1]
		ratio := three.perSec / one.perSec
		t.Logf("throughput (%s), %d single-recipient messages accepted → delivered: 1 instance %.0f/s (accepted %.0f/s), 3 instances %.0f/s (accepted %.0f/s): ratio %.2f× (target 1.8×)",
			cfg.name, messages, one.perSec, one.accepted, three.perSec, three.accepted, ratio)
		if ratio < 1.8 {
			// Not a failure: the ratio depends on the machine. What bounds it is in the CPU lines.
			t.Logf("the ratio is below 1.8×; CPU with 1 instance: %s; with 3: %s", one.cpu, three.cpu)
		}
	}
}

// cappedCores is each instance's CPU in the capped runs: small enough that one instance, not the
// two cores the whole run shares, is what bounds the single-instance run.
const cappedCores = 0.25

func measureThroughput(t *testing.T, o clusterOptions, messages int) throughput {
	instances := o.instances
	c := newCluster(t, o)
	c.setUp()
	// Warm up: the first send fetches the token and fills the instances' caches.
	c.must(http.StatusAccepted, http.MethodPost, "/api/v1/messages?wait=10s", map[string]any{"channel": channelName,
		"to": map[string]any{"users": []any{"u-" + c.demo.UserIDs[0]}}, "msgtype": "text", "text": map[string]any{"content": "warm-up"}})
	base := c.sim.Delivered()
	bodies := make([][]byte, messages)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"channel": channelName,
			"to":      map[string]any{"users": []any{"u-" + c.members[i%len(c.members)]}},
			"msgtype": "text", "text": map[string]any{"content": fmt.Sprintf("Throughput message %d of %d instance(s).", i, instances)}})
	}
	cpu, counters := c.cpuMeter(), c.dbCounters()
	start := time.Now()
	c.postConcurrently(32, "/api/v1/messages", nil, bodies, func(_, status int, data []byte, err error) {
		if err != nil || status != http.StatusAccepted {
			t.Errorf("accept: %d %v %s", status, err, truncate(string(data), 200))
		}
	})
	accepting := time.Since(start)
	err := waitFor(10*time.Minute, 5*time.Millisecond, func() (bool, error) {
		n := c.sim.Delivered() - base
		return n >= messages, fmt.Errorf("%d of %d delivered", n, messages)
	})
	elapsed := time.Since(start)
	res := throughput{instances: instances, elapsed: elapsed, accepting: accepting,
		cpu:      cpu.report() + "; " + perMessage(counters, c.dbCounters(), messages),
		accepted: float64(messages) / accepting.Seconds(), perSec: float64(messages) / elapsed.Seconds()}
	if err != nil {
		t.Fatalf("not delivered: %v", err)
	}
	if d := c.sim.Delivered() - base; d != messages {
		t.Errorf("%d deliveries for %d messages", d, messages)
	}
	t.Logf("%d instance(s): %d messages accepted in %s (%.0f/s), delivered in %s: %.0f messages/s",
		instances, messages, accepting.Round(time.Millisecond), res.accepted, elapsed.Round(time.Millisecond), res.perSec)
	t.Log(res.cpu)
	c.checkHTTP()
	return res
}
