package models_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// fill sets every field of the struct v points to a value of its own that is not the zero value,
// so a column that an insert leaves out reads back different.
func fill(v any, seed int) {
	rv := reflect.ValueOf(v).Elem()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < rv.NumField(); i++ {
		f, n := rv.Field(i), seed+i
		switch f.Interface().(type) {
		case string:
			f.SetString(fmt.Sprintf("v%d", n))
		case bool:
			f.SetBool(true)
		case int, int64:
			f.SetInt(int64(n))
		case uint64:
			f.SetUint(uint64(n))
		case time.Time:
			f.Set(reflect.ValueOf(at.Add(time.Duration(n) * time.Second)))
		case *time.Time:
			t := at.Add(time.Duration(n) * time.Minute)
			f.Set(reflect.ValueOf(&t))
		case *string:
			s := fmt.Sprintf("p%d", n)
			f.Set(reflect.ValueOf(&s))
		case *uint64:
			u := uint64(n)
			f.Set(reflect.ValueOf(&u))
		default:
			panic("fill: no value for field " + rv.Type().Field(i).Name)
		}
	}
}

// Messages and their requests are inserted with hand-listed columns (models.insertMessageValues):
// a message and requests with every field set read back equal, so a field added to the structs
// and not to the lists fails here. 100 requests take several statements of consecutive ids.
func TestInsertedMessageReadsBackWhole(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t)
	ctx := context.Background()
	var m models.Message
	fill(&m, 0)
	m.ID, m.IdempotencyKey, m.IdemChannelID = "01JTESTINSERTALLCOLUMNS000", nil, nil
	reqs := make([]models.MessageRequest, 100)
	for i := range reqs {
		fill(&reqs[i], 100+i)
		reqs[i].ID = 0
	}
	if _, err := s.CreateMessage(ctx, &m, reqs); err != nil {
		t.Fatal(err)
	}
	got, gotReqs, err := s.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "message", &m, got)
	if len(gotReqs) != len(reqs) {
		t.Fatalf("%d requests read back, want %d", len(gotReqs), len(reqs))
	}
	byID := map[uint64]models.MessageRequest{}
	for _, r := range gotReqs {
		byID[r.ID] = r
	}
	for i := range reqs {
		r, ok := byID[reqs[i].ID]
		if !ok {
			t.Fatalf("request %d was given id %d, which no stored request has", i, reqs[i].ID)
		}
		same(t, fmt.Sprintf("request %d", i), &reqs[i], &r)
	}
}

// Every column of a callback event is written by the store's own multi-row INSERT and read back
// as it was given, the id included; twins in one batch are one event.
func TestInsertedEventReadsBackWhole(t *testing.T) {
	t.Parallel()
	// SaveEvent sets NotBefore to now: a whole second, which MySQL's DATETIME(3) keeps as it is.
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	events := make([]models.CallbackEvent, 40)
	var wg sync.WaitGroup
	for i := range events {
		fill(&events[i], 100*i)
		events[i].ID = 0
		wg.Add(1)
		go func() { // at once, so the group commit stores them in shared statements
			defer wg.Done()
			if _, stored, err := s.SaveEvent(ctx, &events[i]); err != nil || !stored {
				t.Errorf("event %d: stored %v, %v", i, stored, err)
			}
		}()
	}
	wg.Wait()
	for i := range events {
		got, err := s.GetEvent(ctx, events[i].ID)
		if err != nil {
			t.Fatalf("event %d (id %d): %v", i, events[i].ID, err)
		}
		same(t, fmt.Sprintf("event %d", i), &events[i], got)
	}
}

// same fails when two structs differ in a field, times compared as instants.
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	w, g := reflect.ValueOf(want).Elem(), reflect.ValueOf(got).Elem()
	for i := 0; i < w.NumField(); i++ {
		a, b := w.Field(i).Interface(), g.Field(i).Interface()
		switch a := a.(type) {
		case time.Time:
			if !a.Equal(b.(time.Time)) {
				t.Errorf("%s.%s = %v, want %v", what, w.Type().Field(i).Name, b, a)
			}
			continue
		case *time.Time:
			if bt := b.(*time.Time); (a == nil) != (bt == nil) || a != nil && !a.Equal(*bt) {
				t.Errorf("%s.%s = %v, want %v", what, w.Type().Field(i).Name, bt, a)
			}
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s.%s = %#v, want %#v", what, w.Type().Field(i).Name, b, a)
		}
	}
}
