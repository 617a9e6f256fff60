package models_test

import (
	"context"
	"testing"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// BenchmarkAuditWrite is one audit entry written on its own (what a sign-in costs; a change's
// entry rides in the change's transaction, so it costs the insert without the commit).
func BenchmarkAuditWrite(b *testing.B) {
	s := storetest.Open(b, storetest.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e := &models.AuditEntry{ActorType: "token", ActorID: 1, ActorName: "bootstrap", Action: "channel.update", TargetType: "channel",
			TargetID: 1, TargetName: "ops", Changes: `["title"]`, IP: "203.0.113.7", UserAgent: "curl/8.5.0"}
		if err := s.Audit(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}
