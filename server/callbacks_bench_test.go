package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// BenchmarkCallbacksUnderLoad posts b.N distinct, valid change_contact callbacks from 64
// concurrent clients over loopback and reports accepted callbacks/s and latency percentiles. The
// bodies are encrypted before the clock starts: what is measured is the server's verify, decrypt,
// parse and store before its 200.
func BenchmarkCallbacksUnderLoad(b *testing.B) {
	e := newDeliveryEnv(b, deliveryOptions{noSender: true})
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{
		"contactsCallback": map[string]any{"token": "contactsToken", "encodingAesKey": strings.Repeat("b", 43)}}})
	hs := httptest.NewServer(e.srv.Handler())
	defer hs.Close()
	type call struct{ url, body string }
	calls := make([]call, b.N)
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	for i := range calls {
		xml := wecomtest.ChangeContactXML(e.demo.CorpID, "update_user", map[string]string{"UserID": fmt.Sprintf("u%07d", i), "Name": "用户"}, e.clock.Now().Unix())
		enc, _ := wecomtest.Encrypt(strings.Repeat("b", 43), e.demo.CorpID, nil, []byte(xml))
		nonce := strconv.Itoa(i)
		q := url.Values{"msg_signature": {wecomtest.Signature("contactsToken", ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
		calls[i] = call{hs.URL + "/callback/wecom/acme/contacts?" + q.Encode(), "<xml><ToUserName><![CDATA[" + e.demo.CorpID + "]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	latencies := make([]time.Duration, b.N)
	next := make(chan int)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				res, err := client.Post(calls[i].url, "text/xml", strings.NewReader(calls[i].body))
				latencies[i] = time.Since(t0)
				if err != nil || res.StatusCode != 200 {
					b.Errorf("callback %d: %v %v", i, err, res)
					return
				}
				// Read to the end, so the connection is reused as the transport's idle pool intends.
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	for i := range calls {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "callbacks/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
}
