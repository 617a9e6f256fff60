package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/workflow"
)

// A schedule fires once per tick, on its time zone's clock, even with two instances on one
// database looking at the same moments; a clock that jumps over several ticks makes up only those
// of the last five minutes; a new leader continues from the last tick fired.
func TestScheduleFiresOncePerTickAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	e := newWorkflowEnv(t, deliveryOptions{dsn: dsn, noSender: true})
	second := New(Config{WeComAPIBase: e.simURL, NoSchedules: true}, storetest.OpenDSN(t, dsn, storetest.Options{Now: e.clock.Now}),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	wf := e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "report", "title": "Report",
		"trigger": map[string]any{"type": "schedule", "config": map[string]any{"cron": "*/5 * * * *", "timezone": "Asia/Shanghai", "data": map[string]any{"kind": "daily"}}},
		"nodes": []any{map[string]any{"key": "tell", "type": "notification", "config": map[string]any{"channel": "ops",
			"to": map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}, "msgtype": "text",
			"text": map[string]any{"content": "{{$context.data.kind}} report at {{$context.date}}"}}}}}).Data()

	engines := []*workflow.Engine{e.srv.Workflows(), second.Workflows()}
	fire := func() {
		var wg sync.WaitGroup
		for _, en := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := en.FireSchedules(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	fire() // the first look only notes the time (09:00 UTC, 17:00 in Shanghai)
	for i := 0; i < 30; i++ {
		e.clock.Advance(time.Minute)
		fire()
		fire() // looking twice at one moment fires nothing more
	}
	e.clock.Advance(12 * time.Minute) // 17:42: the ticks of 17:35 and 17:40 passed unseen
	fire()
	// 17:49: a third instance takes over (nobody looked since 17:42): it makes up 17:45.
	e.clock.Advance(7 * time.Minute)
	third := New(Config{WeComAPIBase: e.simURL, NoSchedules: true}, storetest.OpenDSN(t, dsn, storetest.Options{Now: e.clock.Now}),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if n, err := third.Workflows().FireSchedules(context.Background()); err != nil || n != 1 {
		t.Fatalf("the new leader fired %d, %v; want the missed 17:45", n, err)
	}

	list := e.must(200, "GET", fmt.Sprintf("/api/v1/executions?workflowId=%v&pageSize=200", wf["id"]), nil).JSON()
	var dates []string
	for _, x := range list["data"].([]any) {
		c := x.(map[string]any)["context"].(map[string]any)
		if c["data"].(map[string]any)["kind"] != "daily" {
			t.Fatalf("context: %v", c)
		}
		dates = append(dates, c["date"].(string))
	}
	sort.Strings(dates)
	want := []string{"2026-11-02T17:05:00+08:00", "2026-11-02T17:10:00+08:00", "2026-11-02T17:15:00+08:00",
		"2026-11-02T17:20:00+08:00", "2026-11-02T17:25:00+08:00", "2026-11-02T17:30:00+08:00", "2026-11-02T17:40:00+08:00",
		"2026-11-02T17:45:00+08:00"}
	if fmt.Sprint(dates) != fmt.Sprint(want) {
		t.Fatalf("fired at %v\nwant     %v", dates, want)
	}
}
