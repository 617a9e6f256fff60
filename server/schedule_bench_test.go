package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkScheduledRelease accepts b.N messages through the HTTP API with their sendAt spread at
// rate a second (100, 500, 2,000: below and at the sender's throughput on an idle machine), then lets the clock run in step with real time from just before the
// first sendAt, and measures how late each reaches WeCom after its sendAt (SPEC §11: p99 ≤ 2 s
// for 10,000). The clock stands still while they are accepted, so the acceptance rate does not
// decide the result; the sender polls at the server's default (500 ms).
func BenchmarkScheduledRelease(b *testing.B) {
	for _, rate := range []int{100, 500, 2000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchmarkScheduledRelease(b, rate) })
	}
}

func benchmarkScheduledRelease(b *testing.B, rate int) {
	e := newDeliveryEnv(b, deliveryOptions{members: 2000, start: time.Now(), poll: 500 * time.Millisecond})
	api := httptest.NewServer(e.srv.Handler())
	defer api.Close()
	first := e.clock.Now().Add(time.Hour)
	sendAt := make([]time.Time, b.N)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		sendAt[i] = first.Add(time.Duration(i) * time.Second / time.Duration(rate))
		bodies[i], _ = json.Marshal(map[string]any{"channel": "ops", "sendAt": sendAt[i].Format(time.RFC3339Nano),
			"to": map[string]any{"users": []string{"local-" + memberID(i%2000)}}, "msgtype": "text",
			"text": map[string]any{"content": "scheduled " + strconv.Itoa(i)}})
	}
	b.ResetTimer()
	start := time.Now()
	postMessages(b, api.URL+"/api/v1/messages", e.token, bodies, nil)
	accepted := time.Since(start)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		from, base := first.Add(-time.Second), time.Now()
		for ctx.Err() == nil {
			e.clock.Advance(from.Add(time.Since(base)).Sub(e.clock.Now()))
			time.Sleep(time.Millisecond)
		}
	}()
	for deliveredCount(e) < b.N {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("only %d of %d delivered", deliveredCount(e), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	var late []time.Duration
	var last time.Time
	early := 0
	for u := 0; u < min(b.N, 2000); u++ {
		for _, d := range e.sim.Inbox(e.demo.CorpID, memberID(u)) {
			var text struct{ Content string }
			_ = json.Unmarshal(d.Body, &text)
			i, err := strconv.Atoi(strings.TrimPrefix(text.Content, "scheduled "))
			if err != nil {
				b.Fatalf("unexpected delivery %s", d.Body)
			}
			// The clock follows real time to within a millisecond or two.
			if d.At.Before(sendAt[i].Add(-2 * time.Millisecond)) {
				early++
			}
			late = append(late, d.At.Sub(sendAt[i]))
			if d.At.After(last) {
				last = d.At
			}
		}
	}
	if len(late) != b.N || early > 0 {
		b.Fatalf("%d deliveries for %d messages, %d before their sendAt", len(late), b.N, early)
	}
	slices.Sort(late)
	pct := func(p float64) float64 { return float64(late[int(p*float64(len(late)-1))].Milliseconds()) }
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	// Below rate, the machine could not deliver as fast as messages fell due.
	b.ReportMetric(float64(b.N)/last.Sub(first).Seconds(), "delivered/s")
	b.ReportMetric(pct(0.5), "p50-late-ms")
	b.ReportMetric(pct(0.99), "p99-late-ms")
	b.ReportMetric(pct(1), "max-late-ms")
}
