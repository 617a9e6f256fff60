package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// A message to a member at the limit and one who is not is split: the second gets it now, the
// first when its window frees — and the narrowed request is stored before it is sent, so a
// resend after a crash repeats exactly what went out.
func TestPacedSplitIsStoredBeforeSending(t *testing.T) {
	t.Parallel()
	var e *deliveryEnv
	stored := make(chan string, 200)
	e = newDeliveryEnv(t, deliveryOptions{hooks: wecom.Hooks{AfterSend: func(r *models.MessageRequest) {
		var toUser string
		e.store.DB.Model(&models.MessageRequest{}).Where("id = ?", r.ID).Pluck("to_user", &toUser)
		stored <- r.ToUser + "=" + toUser
	}}})
	busy, fresh := e.demo.UserIDs[7], e.demo.UserIDs[8]
	for i := 0; i < 30; i++ {
		e.waitFinal(e.send(textTo([]string{"local-" + busy}, fmt.Sprintf("fill %d", i))))
	}
	id := e.send(textTo([]string{"local-" + busy, "local-" + fresh}, "both"))
	e.waitInbox(fresh, 1)
	if n := len(e.inbox(busy)); n != 30 {
		t.Fatalf("the busy member got %d, want 30 for now", n)
	}
	e.clock.Advance(62 * time.Second)
	if m := e.waitFinal(id); m["status"] != "sent" || len(m["requests"].([]any)) != 2 {
		t.Fatalf("message %v with %v", m["status"], m["requests"])
	}
	close(stored)
	for s := range stored {
		sent, inDB, _ := strings.Cut(s, "=")
		if sent != inDB {
			t.Fatalf("sent to %q while the stored request said %q", sent, inDB)
		}
	}
	if e.sim.TotalDrops() != 0 || len(e.inbox(busy)) != 31 {
		t.Fatalf("drops %d, busy inbox %d", e.sim.TotalDrops(), len(e.inbox(busy)))
	}
}
