package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchmarkDelivery accepts b.N messages of `recipients` members each through the real HTTP API
// (16 clients at once) and waits until the simulator holds every delivery: accepted-to-delivered
// throughput over loopback, with the database the suite runs on.
func benchmarkDelivery(b *testing.B, recipients int) {
	members := 2000
	if recipients > members {
		members = recipients
	}
	e := newDeliveryEnv(b, deliveryOptions{members: members, start: time.Now()})
	api := httptest.NewServer(e.srv.Handler())
	defer api.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
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
	var wg sync.WaitGroup
	next := make(chan []byte)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range next {
				req, _ := http.NewRequest("POST", api.URL+"/api/v1/messages", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.token)
				res, err := client.Do(req)
				if err != nil || res.StatusCode != 202 {
					b.Errorf("accept: %v %v", err, res)
					return
				}
				res.Body.Close()
			}
		}()
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
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

func BenchmarkDeliverySingleRecipient(b *testing.B) { benchmarkDelivery(b, 1) }

func BenchmarkDelivery1000Recipients(b *testing.B) { benchmarkDelivery(b, 1000) }
