package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// A round of reminders is claimed by one instance at a time. An instance that dies holding it
// (before recording) loses nothing: the round is due again when its lease lapses. One whose lease
// lapsed and was taken over records nothing — neither the round's message nor the reminder's
// advance — so the round is sent once.
func TestReminderRoundIsSentOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	r := models.Reminder{MessageID: "01CARD0000000000000000000A", ExecutionID: "01EXEC0000000000000000000A", Channel: "ops",
		Recipients: "a|b", Text: "still waiting", Every: 30 * time.Minute, Times: 2, NextAt: now.Add(30 * time.Minute),
		Until: now.Add(24 * time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := s.DB.Create(&r).Error; err != nil {
		t.Fatal(err)
	}
	claim := func(owner string) []models.Reminder {
		t.Helper()
		got, err := s.ClaimReminders(ctx, owner, 30*time.Second, 10)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	round := func(id string) *models.MessageWithRequests {
		return &models.MessageWithRequests{Message: &models.Message{ID: id, Channel: "ops", MsgType: "text", Status: models.MessageQueued,
			TriggerFrom: "workflow", CreatedAt: now, UpdatedAt: now},
			Requests: []models.MessageRequest{{ToUser: "a|b", Status: models.RequestPending, NotBefore: now}}}
	}
	messages := func() int64 {
		var n int64
		if err := s.DB.Model(&models.Message{}).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	if got := claim("a"); len(got) != 0 {
		t.Fatalf("claimed %d reminders before their time", len(got))
	}
	now = now.Add(30 * time.Minute)
	dead := claim("a")
	if len(dead) != 1 || len(claim("b")) != 0 {
		t.Fatalf("claims while a holds the round: a %d", len(dead))
	}
	// a dies; its lease lapses and b takes the same round.
	now = now.Add(time.Minute)
	taken := claim("b")
	if len(taken) != 1 || taken[0].Rounds != 0 {
		t.Fatalf("b's claim after the lapse: %+v", taken)
	}
	taken[0].Rounds, taken[0].NextAt = 1, taken[0].NextAt.Add(30*time.Minute)
	if err := s.RecordReminder(ctx, "b", &taken[0], false, round("01ROUNDB000000000000000001")); err != nil {
		t.Fatal(err)
	}
	// a wakes up late: its round is refused and nothing of it is stored.
	dead[0].Rounds = 1
	if err := s.RecordReminder(ctx, "a", &dead[0], false, round("01ROUNDA000000000000000001")); !errors.Is(err, models.ErrInUse) {
		t.Fatalf("a's late record: %v, want ErrInUse", err)
	}
	if n := messages(); n != 1 {
		t.Fatalf("%d round messages stored, want 1", n)
	}
	if got := claim("a"); len(got) != 0 {
		t.Fatalf("the recorded round is due again: %+v", got)
	}

	// The last round deletes the reminder with its message stored.
	now = now.Add(30 * time.Minute)
	last := claim("a")
	if len(last) != 1 || last[0].Rounds != 1 {
		t.Fatalf("second round: %+v", last)
	}
	last[0].Rounds = 2
	if err := s.RecordReminder(ctx, "a", &last[0], true, round("01ROUNDA000000000000000002")); err != nil {
		t.Fatal(err)
	}
	var left int64
	if err := s.DB.Model(&models.Reminder{}).Count(&left).Error; err != nil || left != 0 || messages() != 2 {
		t.Fatalf("after the last round: %d reminders, %d messages (%v)", left, messages(), err)
	}
}
