package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// A due mass message is refreshed by one instance at a time: the claim of one leaves nothing for
// another until the lease lapses or the refresh is written; a refresh whose lease was taken over
// writes nothing, and a canceled message is claimed no more.
func TestMassMessageRefreshIsClaimedOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := now
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return clock }})
	ctx := t.Context()
	m := &models.MassMessage{AuthenticatorID: 1, ChatType: "single", Body: "{}", MsgID: "msgA", Status: models.MassCreated,
		FailList: "[]", NextRefreshAt: &now, RefreshUntil: now.Add(72 * time.Hour)}
	if err := s.CreateMassMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	a, err := s.ClaimDueMassMessages(ctx, "a", time.Minute, 10)
	if err != nil || len(a) != 1 {
		t.Fatalf("first claim: %v %v", a, err)
	}
	if b, err := s.ClaimDueMassMessages(ctx, "b", time.Minute, 10); err != nil || len(b) != 0 {
		t.Fatalf("second instance claimed %v %v", b, err)
	}
	if _, err := s.ClaimMassMessage(ctx, m.ID, "b", time.Minute); !errors.Is(err, models.ErrMassBusy) {
		t.Fatalf("an on-demand refresh while a holds it: %v", err)
	}
	clock = now.Add(2 * time.Minute) // a died: its lease lapsed
	b, err := s.ClaimDueMassMessages(ctx, "b", time.Minute, 10)
	if err != nil || len(b) != 1 {
		t.Fatalf("after the lease lapsed: %v %v", b, err)
	}
	a[0].Status, a[0].Members = models.MassSending, 7
	if err := s.FinishMassRefresh(ctx, &a[0], []models.MassMessageMember{{MassMessageID: m.ID, UserID: "x", Status: "sent"}}, "a"); !errors.Is(err, models.ErrMassLeaseLost) {
		t.Fatalf("a wrote after losing its lease: %v", err)
	}
	next := clock.Add(5 * time.Minute)
	b[0].Status, b[0].Members, b[0].NextRefreshAt = models.MassSending, 1, &next
	if err := s.FinishMassRefresh(ctx, &b[0], []models.MassMessageMember{{MassMessageID: m.ID, UserID: "y", Status: "unsent", Counted: true}}, "b"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetMassMessage(ctx, m.ID)
	members, _ := s.MassMessageMembers(ctx, m.ID)
	if got.Members != 1 || got.LeaseOwner != "" || got.LeaseUntil != nil || len(members) != 1 || members[0].UserID != "y" {
		t.Fatalf("after b's refresh: %+v %+v", got, members)
	}
	if c, _ := s.ClaimDueMassMessages(ctx, "c", time.Minute, 10); len(c) != 0 {
		t.Fatalf("claimed before the next refresh is due: %v", c)
	}
	if err := s.CanceledMassMessage(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	clock = next
	if c, _ := s.ClaimDueMassMessages(ctx, "c", time.Minute, 10); len(c) != 0 {
		t.Fatalf("a canceled message was claimed: %v", c)
	}
	if _, err := s.ClaimMassMessage(ctx, m.ID, "c", time.Minute); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("on-demand claim of a canceled message: %v", err)
	}
}

// Retention removes old mass messages that are no longer refreshed, with their members; one
// still being refreshed stays whatever its age.
func TestRetentionRemovesOldMassMessages(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return retentionNow }})
	ctx := t.Context()
	due := retentionNow
	for i, next := range []*time.Time{nil, &due} {
		m := &models.MassMessage{AuthenticatorID: 1, ChatType: "single", Body: "{}", MsgID: "old" + string(rune('a'+i)), Status: models.MassFinished,
			FailList: "[]", NextRefreshAt: next, RefreshUntil: oldAt, CreatedAt: oldAt}
		if err := s.CreateMassMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := s.DB.Create(&models.MassMessageMember{MassMessageID: m.ID, UserID: "u", Status: models.MassMemberSent}).Error; err != nil {
			t.Fatal(err)
		}
	}
	removed, err := s.DeleteFinished(ctx, cutoff, 0)
	if err != nil || removed["mass_messages"] != 1 || removed["mass_message_members"] != 1 {
		t.Fatalf("removed %v %v", removed, err)
	}
	if _, err := s.GetMassMessage(ctx, 2); err != nil {
		t.Fatalf("the one still refreshing: %v", err)
	}
}
