package server

import (
	"context"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// A send that outlasts the sender's lease many times over keeps its request: the sender renews
// the lease while it sends, so no other instance claims it and resends. Delivered once, one
// attempt, not ambiguous.
func TestASlowSendKeepsItsLease(t *testing.T) {
	t.Parallel()
	claimed, release := make(chan struct{}, 10), make(chan struct{})
	const lease = 300 * time.Millisecond // renewed every 100 ms of real time
	e := newDeliveryEnv(t, deliveryOptions{lease: lease, hooks: wecom.Hooks{AfterClaim: func(*models.MessageRequest) {
		claimed <- struct{}{}
		<-release
	}}})
	id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}},
		"msgtype": "text", "text": map[string]any{"content": "slow"}})
	<-claimed
	ctx := context.Background()
	// Ten leases pass on the store's clock while the send is held; the renewals keep up.
	for i := 0; i < 10; i++ {
		e.clock.Advance(lease)
		time.Sleep(4 * lease / 3)
		got, err := e.store.ClaimRequests(ctx, "another instance", time.Minute, 10)
		if err != nil || len(got) != 0 || len(claimed) != 0 {
			close(release)
			t.Fatalf("after %d leases another instance claimed %d requests (%v), the sender itself %d again: the lease was not renewed",
				i+1, len(got), err, len(claimed))
		}
	}
	close(release)
	m := e.waitFinal(id)
	_, reqs, err := e.store.GetMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m["status"] != "sent" || len(reqs) != 1 || reqs[0].Attempts != 1 || reqs[0].Ambiguous {
		t.Fatalf("message %v, request attempts %d ambiguous %v", m["status"], reqs[0].Attempts, reqs[0].Ambiguous)
	}
	if n := len(e.sim.Inbox(e.demo.CorpID, e.demo.UserIDs[0])); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}
