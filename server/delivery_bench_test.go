package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// deliveryLoad is what a delivery benchmark sends.
type deliveryLoad struct {
	recipients int
	// wait is every POST's ?wait= (empty: none): each client then waits for its message's result,
	// which must be "sent".
	wait string
	// latency is how long WeCom takes to answer each message/send.
	latency time.Duration
}

// benchmarkDelivery accepts b.N messages of `recipients` members each through the real HTTP API
// (16 clients at once) and waits until the simulator holds every delivery: accepted-to-delivered
// throughput over loopback, with the database the suite runs on.
func benchmarkDelivery(b *testing.B, load deliveryLoad) {
	recipients := load.recipients
	members := 2000
	if recipients > members {
		members = recipients
	}
	e := newDeliveryEnv(b, deliveryOptions{members: members, start: time.Now()})
	if load.latency > 0 {
		e.sim.FailRate("message/send", 1, wecomtest.Fault{Latency: load.latency})
	}
	url := "/api/v1/messages"
	if load.wait != "" {
		url += "?wait=" + load.wait
	}
	api := httptest.NewServer(e.srv.Handler())
	defer api.Close()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		users := make([]string, recipients)
		for j := range users {
			users[j] = "local-" + memberID((i*recipients+j)%members)
		}
		bodies[i], _ = json.Marshal(map[string]any{"channel": "ops", "to": map[string]any{"users": users},
			"msgtype": "text", "text": map[string]any{"content": "benchmark message " + strconv.Itoa(i)}})
	}
	want := b.N * recipients
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	postMessages(b, api.URL+url, e.token, bodies, func(res *http.Response) error {
		if load.wait == "" {
			return nil
		}
		var answer struct{ Data struct{ Status string } }
		if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || answer.Data.Status != "sent" {
			return fmt.Errorf("?wait=%s answered %q, %v", load.wait, answer.Data.Status, err)
		}
		return nil
	})
	accepted := time.Since(start)
	for deliveredCount(e) < want {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("only %d of %d delivered", deliveredCount(e), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
	if drops := e.sim.TotalDrops(); drops != 0 {
		b.Fatalf("WeCom dropped %d", drops)
	}
}

func deliveredCount(e *deliveryEnv) int { return e.sim.Delivered() }

// postMessages posts every body to target with token from 16 clients at once (loopback), each
// answer a 202 that check (if any) accepts.
func postMessages(b *testing.B, target, token string, bodies [][]byte, check func(*http.Response) error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var wg sync.WaitGroup
	next := make(chan []byte)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range next {
				req, _ := http.NewRequest("POST", target, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := client.Do(req)
				if err != nil || res.StatusCode != 202 {
					b.Errorf("accept: %v %v", err, res)
					return
				}
				if check != nil {
					if err := check(res); err != nil {
						b.Error(err)
					}
				}
				// Read to the end, so the connection is reused as the transport's idle pool intends.
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
}

// peakRSSMiB is the process's peak resident set (VmHWM) so far.
func peakRSSMiB() float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

func BenchmarkDeliverySingleRecipient(b *testing.B) {
	benchmarkDelivery(b, deliveryLoad{recipients: 1})
}

func BenchmarkDelivery1000Recipients(b *testing.B) {
	benchmarkDelivery(b, deliveryLoad{recipients: 1000})
}

// BenchmarkDeliveryWait is 16 clients each waiting for its message's result (?wait=10s) while
// WeCom takes 50 ms per message: at most 16 / 50 ms = 320 messages/s.
func BenchmarkDeliveryWait(b *testing.B) {
	benchmarkDelivery(b, deliveryLoad{recipients: 1, wait: "10s", latency: 50 * time.Millisecond})
}
