package server

import (
	"fmt"
	"testing"
)

// BenchmarkMassMessageRefresh10000Members is POST /mass-messages/{id}/refresh of a message with
// 10,000 members (half of them sent), every member's results read afresh each time: 10 pages of
// get_groupmsg_task and 10,000 get_groupmsg_send_result calls to the simulator, and 10,000
// member rows written. docs/benchmarks.md has the numbers.
func BenchmarkMassMessageRefresh10000Members(b *testing.B) {
	const n = 10000
	e := newMassEnv(b, deliveryOptions{members: n})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("wmBench%05d", i)
		e.sim.AddExternalContact(e.demo.CorpID, memberID(i), ids[i], "客户")
	}
	id, msgid := e.create(map[string]any{"externalUserIds": ids, "text": map[string]any{"content": "新品上市"}})
	for i := 0; i < n; i += 2 {
		e.confirm(msgid, memberID(i))
	}
	for b.Loop() {
		b.StopTimer()
		// Forget what the last refresh counted, so every member is asked again.
		if err := e.store.DB.Exec("DELETE FROM mass_message_members").Error; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		m := e.refresh(id)
		if m["memberCount"] != float64(n) || results(m) != "sent 5000 unsent 5000 notFriend 0 alreadyReceived 0" {
			b.Fatalf("refresh: %v members, %s", m["memberCount"], results(m))
		}
	}
}
