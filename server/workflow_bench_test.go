package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// deliveryClock timestamps, in real time, when the simulator accepted each benchmark message,
// by the number of its text or markdown.
type deliveryClock struct {
	mu sync.Mutex
	at map[int]time.Time
}

func (d *deliveryClock) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/message/send") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		var req struct {
			Text, Markdown struct {
				Content string `json:"content"`
			}
		}
		_ = json.Unmarshal(body, &req)
		if i, ok := benchNumber(req.Text.Content + req.Markdown.Content); ok {
			d.mu.Lock()
			if _, seen := d.at[i]; !seen {
				d.at[i] = time.Now()
			}
			d.mu.Unlock()
		}
	})
}

// benchNumber is the number a benchmark message carries as "#123" (a markdown heading's "##"
// is not one).
func benchNumber(content string) (int, bool) {
	for rest := content; ; {
		_, after, found := strings.Cut(rest, "#")
		if !found {
			return 0, false
		}
		digits := after[:len(after)-len(strings.TrimLeft(after, "0123456789"))]
		if i, err := strconv.Atoi(digits); err == nil {
			return i, true
		}
		rest = after
	}
}

func (d *deliveryClock) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.at)
}

// BenchmarkWorkflowWebhookToDelivered triggers b.N executions of webhook → condition →
// notification (one recipient each) through the public webhook URL, as fast as 16 clients can,
// and waits until every execution resolved, i.e. knows its message was delivered. It reports
// executions/s and the trigger-to-delivered latency (webhook request sent → the simulator
// accepted the message/send), which at full speed includes the queue.
func BenchmarkWorkflowWebhookToDelivered(b *testing.B) { benchmarkWorkflow(b, 0) }

// BenchmarkWorkflowLatencyAt200PerSecond is the same with triggers paced at 200 per second: the
// latency of a server that keeps up.
func BenchmarkWorkflowLatencyAt200PerSecond(b *testing.B) { benchmarkWorkflow(b, 200) }

func benchmarkWorkflow(b *testing.B, rate int) {
	const members = 2000
	clk := &deliveryClock{at: map[int]time.Time{}}
	e := newDeliveryEnv(b, deliveryOptions{members: members, start: time.Now(), simWrap: clk.wrap})
	api := httptest.NewServer(e.srv.Handler())
	defer api.Close()
	e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "bench", "title": "Bench",
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
		"nodes": []any{map[string]any{"key": "big", "type": "condition", "config": map[string]any{"expression": "$context.data.amount > 1000"},
			"branches": map[string]any{"true": []any{map[string]any{"key": "tell", "type": "notification", "config": map[string]any{
				"channel": "ops", "to": map[string]any{"users": []any{"{{$context.data.user}}"}}, "msgtype": "text",
				"text": map[string]any{"content": "order {{$context.data.id}} paid #{{$context.data.id}}"}}}}}}}})
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"id": i, "amount": 5000, "user": "local-" + memberID(i%members)})
	}
	driveWebhooks(b, e, clk, api.URL+"/hooks/bench", bodies, rate, func(h http.Header, body []byte) {
		signWebhook(h, body, hookSecret, e.clock.Now())
	})
}

// driveWebhooks posts the bodies to url from 16 clients (rate a second, or as fast as they can
// when 0), each signed by auth, waits until every execution resolved and reports executions/s,
// triggers/s, the trigger-to-delivered latency and peak RSS.
func driveWebhooks(b *testing.B, e *deliveryEnv, clk *deliveryClock, url string, bodies [][]byte, rate int, auth func(http.Header, []byte)) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	sentAt := make([]time.Time, b.N)
	ids := make([]string, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i]))
				sentAt[i] = time.Now()
				auth(req.Header, bodies[i])
				res, err := client.Do(req)
				if err != nil || res.StatusCode != 202 {
					b.Errorf("webhook: %v %v", err, res)
					return
				}
				var out struct {
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				_ = json.NewDecoder(res.Body).Decode(&out)
				_, _ = io.Copy(io.Discard, res.Body) // to the end: the connection is reused
				res.Body.Close()
				ids[i] = out.Data.ID
			}
		}()
	}
	var pace <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		pace = t.C
	}
	for i := range bodies {
		if pace != nil {
			<-pace
		}
		next <- i
	}
	close(next)
	wg.Wait()
	accepted := time.Since(start)
	for countExecutions(e, "resolved") < b.N {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("only %d of %d executions resolved", countExecutions(e, "resolved"), b.N)
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if clk.count() != b.N {
		b.Fatalf("%d deliveries, want %d", clk.count(), b.N)
	}
	lat := make([]float64, b.N)
	for i := range lat {
		lat[i] = float64(clk.at[i].Sub(sentAt[i]).Microseconds()) / 1000
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "executions/s")
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "triggers/s")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
}

// BenchmarkDigestWindowClose posts 10,000 webhook events into 100 digest keys within one window
// (the fake clock stands still), then moves the clock past the window's end and measures, in real
// time, how long until the 100 digests are delivered: "after-close-s". Each op is the whole run;
// run it with -benchtime=1x.
func BenchmarkDigestWindowClose(b *testing.B) {
	const events, keys = 10_000, 100
	for range b.N {
		clk := &deliveryClock{at: map[int]time.Time{}}
		e := newWorkflowEnv(b, deliveryOptions{members: keys, start: time.Now(), simWrap: clk.wrap})
		e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "bench", "title": "Bench",
			"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
			"nodes": []any{
				map[string]any{"key": "batch", "type": "digest", "config": map[string]any{"window": "5m", "key": "{{$context.data.k}}", "maxItems": 1000}},
				map[string]any{"key": "tell", "type": "notification", "config": map[string]any{"channel": "ops", "msgtype": "text",
					"to":   map[string]any{"users": []any{"local-{{$context.data.user}}"}},
					"text": map[string]any{"content": "{{$jobs.batch.count}} alerts #{{$context.data.k}}"}}}}})
		var wg sync.WaitGroup
		next := make(chan int)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					k := i % keys
					if status, _ := e.hook("bench", map[string]any{"k": k, "user": memberID(k), "n": i}, hookSecret); status != 202 {
						b.Errorf("webhook: %d", status)
						return
					}
				}
			}()
		}
		start := time.Now()
		for i := range events {
			next <- i
		}
		close(next)
		wg.Wait()
		for countExecutions(e.deliveryEnv, "resolved")+countExecutions(e.deliveryEnv, "waiting") < events {
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("only %d executions reached the digest", countExecutions(e.deliveryEnv, "resolved")+countExecutions(e.deliveryEnv, "waiting"))
			}
			time.Sleep(10 * time.Millisecond)
		}
		ingest := time.Since(start)
		if n := countExecutions(e.deliveryEnv, "waiting"); n != keys {
			b.Fatalf("%d open windows, want %d", n, keys)
		}
		b.ResetTimer()
		e.closeWindows(5 * time.Minute)
		closed := time.Now()
		for clk.count() < keys || countExecutions(e.deliveryEnv, "waiting") > 0 {
			if time.Since(closed) > time.Minute {
				b.Fatalf("%d of %d digests delivered a minute after the close", clk.count(), keys)
			}
			time.Sleep(2 * time.Millisecond)
		}
		var last time.Time
		for _, at := range clk.at {
			if at.After(last) {
				last = at
			}
		}
		b.StopTimer()
		if n := len(clk.at); n != keys {
			b.Fatalf("%d digests, want %d", n, keys)
		}
		b.ReportMetric(last.Sub(closed).Seconds(), "after-close-s")
		b.ReportMetric(float64(events)/ingest.Seconds(), "events/s")
	}
}

// countExecutions counts the executions in a status.
func countExecutions(e *deliveryEnv, status string) int {
	var n int64
	e.store.Read.Table("executions").Where("status = ?", status).Count(&n)
	return int(n)
}
