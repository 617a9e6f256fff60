package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// Outcomes recorded together (on MySQL one statement for the requests and one for the messages)
// come out as recorded one by one: every owned request and its message written; a request whose
// lease another sender took is not, and is reported not owned; a message canceled meanwhile
// stays canceled.
func TestRecordOutcomesTogether(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name              string
		stolen, cancelled int // the request whose lease is lost, the message canceled (-1: none)
	}{{"all owned", -1, -1}, {"a lease lost", 1, -1}, {"a message canceled", -1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
			ctx := context.Background()
			seed := make([]models.MessageRequest, 3)
			for i := range seed {
				seed[i] = models.MessageRequest{Status: models.RequestPending, NotBefore: now, ToUser: "u"}
			}
			seedRequests(t, s, now, seed...)
			claimed, err := s.ClaimRequests(ctx, "me", time.Minute, 10)
			if err != nil || len(claimed) != 3 {
				t.Fatalf("claimed %d: %v", len(claimed), err)
			}
			if tc.stolen >= 0 {
				if err := s.DB.Model(&models.MessageRequest{}).Where("id = ?", claimed[tc.stolen].Request.ID).Update("lease_owner", "other").Error; err != nil {
					t.Fatal(err)
				}
			}
			if tc.cancelled >= 0 {
				if err := s.DB.Model(&models.Message{}).Where("id = ?", claimed[tc.cancelled].Message.ID).Update("status", models.MessageCanceled).Error; err != nil {
					t.Fatal(err)
				}
			}
			outs := make([]models.Outcome, len(claimed))
			for i := range claimed {
				r, m := &claimed[i].Request, &claimed[i].Message
				sent := now
				r.Status, r.MsgID, r.SentAt, r.InvalidUser = models.RequestSent, "msg"+r.MessageID, &sent, ""
				if i == 0 {
					r.InvalidUser = "ghost"
				}
				outs[i] = models.Outcome{Request: r, Message: m}
			}
			if err := s.RecordOutcomes(ctx, "me", outs); err != nil {
				t.Fatal(err)
			}
			for i, c := range claimed {
				m, reqs, err := s.GetMessage(ctx, c.Message.ID)
				if err != nil {
					t.Fatal(err)
				}
				r := reqs[0]
				wantStatus, wantReq := models.MessageSent, models.RequestSent
				switch {
				case i == tc.stolen:
					wantStatus, wantReq = models.MessageSending, models.RequestSending
				case i == tc.cancelled:
					wantStatus = models.MessageCanceled
				case i == 0:
					wantStatus = models.MessagePartial
				}
				if outs[i].Owned != (i != tc.stolen) {
					t.Errorf("outcome %d: owned %v", i, outs[i].Owned)
				}
				if m.Status != wantStatus || r.Status != wantReq {
					t.Errorf("message %d: %s with its request %s, want %s and %s", i, m.Status, r.Status, wantStatus, wantReq)
				}
				if i == tc.stolen {
					continue
				}
				if r.MsgID != "msg"+c.Message.ID || r.LeaseOwner != "" || r.LeaseUntil != nil || r.SentAt == nil || !r.SentAt.Equal(now) {
					t.Errorf("request %d recorded as %+v", i, r)
				}
				if i != tc.cancelled && (m.SentAt == nil || !m.SentAt.Equal(now) || m.Attempts != 1) {
					t.Errorf("message %d: sent at %v after %d attempts", i, m.SentAt, m.Attempts)
				}
				if i == 0 && m.Invalid != `["ghost"]` {
					t.Errorf("message 0: invalid %s", m.Invalid)
				}
			}
		})
	}
}
