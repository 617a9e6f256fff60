package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// benchmarkAccept posts b.N single-recipient messages through the real HTTP API (16 clients at
// once, loopback) with token, the sender stopped: what accepting a send costs, authentication and
// the role check included.
func benchmarkAccept(b *testing.B, e *deliveryEnv, token string) {
	api := httptest.NewServer(e.srv.Handler())
	defer api.Close()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"channel": "ops", "to": map[string]any{"users": []string{"local-" + memberID(i%2000)}},
			"msgtype": "text", "text": map[string]any{"content": "benchmark message " + strconv.Itoa(i)}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	postMessages(b, api.URL+"/api/v1/messages", token, bodies, nil)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkAcceptMessage sends with the bootstrap token (an admin token of no account).
func BenchmarkAcceptMessage(b *testing.B) {
	e := newDeliveryEnv(b, deliveryOptions{members: 2000, start: time.Now(), noSender: true})
	benchmarkAccept(b, e, e.token)
}

// BenchmarkAcceptMessageScopedAccountToken sends with the costliest kind of token: an operator
// token of an account (whose enabled flag and role are read on every request), scoped to the
// channel.
func BenchmarkAcceptMessageScopedAccountToken(b *testing.B) {
	e := newDeliveryEnv(b, deliveryOptions{members: 2000, start: time.Now(), noSender: true})
	e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": "erp owner", "role": "operator"})
	res := e.accountSession(1).apiAs("POST", "/api/v1/tokens", `{"name": "erp", "channels": ["ops"]}`)
	if res.Status != http.StatusCreated {
		b.Fatalf("token: %d %s", res.Status, res.Body)
	}
	benchmarkAccept(b, e, res.Data()["token"].(string))
}
