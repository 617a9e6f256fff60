package workflow

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleTick is how often schedules are looked at: ticks are minutes, a second is early enough.
const scheduleTick = time.Second

// RunSchedules fires schedule triggers until ctx ends, while leading reports that this instance
// is the one to (ticks are deduplicated in the database as well, so a change of leader in the
// middle of a tick fires it once).
func (e *Engine) RunSchedules(ctx context.Context, leading func() bool) {
	t := time.NewTicker(scheduleTick)
	defer t.Stop()
	for {
		if !leading() {
			// A new leader starts afresh: ticks seen while another instance led are its own.
			e.schedMu.Lock()
			clear(e.schedSeen)
			e.schedMu.Unlock()
		} else if _, err := e.FireSchedules(ctx); err != nil {
			e.log.ErrorContext(ctx, "cannot fire schedules", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FireSchedules starts an execution for each enabled schedule workflow whose latest tick came
// since the last look, and returns how many it started. Every instance may call it: a tick's
// execution carries the tick as its dedup key, so the database lets one instance start it. A tick
// that passed while no instance was looking (all were down) is not made up for: the first look
// after a start only notes the time, and the next tick fires as usual.
func (e *Engine) FireSchedules(ctx context.Context) (int, error) {
	now := e.store.Now()
	wfs, err := e.store.EnabledWorkflows(ctx, TriggerSchedule)
	if err != nil {
		return 0, err
	}
	started := 0
	enabled := make(map[uint64]bool, len(wfs))
	for i := range wfs {
		w := &wfs[i]
		enabled[w.ID] = true
		def, err := e.definition(ctx, w.ID, w.Version)
		if err != nil {
			return started, err
		}
		e.schedMu.Lock()
		since, seen := e.schedSeen[w.ID]
		e.schedMu.Unlock()
		if !seen {
			// The first look only notes the time.
			since = now
		}
		if tick, due := dueTick(def.Trigger.Config, since, now); due {
			ctxData := map[string]any{"date": tick.Format(time.RFC3339), "data": def.Trigger.Config["data"]}
			_, fired, err := e.start(ctx, w, TriggerSchedule, ctxData, "tick:"+tick.UTC().Format(time.RFC3339))
			if err != nil {
				// The look is not recorded, so the next one tries this tick again.
				return started, err
			}
			if fired {
				started++
			}
		}
		e.schedMu.Lock()
		e.schedSeen[w.ID] = now
		e.schedMu.Unlock()
	}
	// A workflow disabled now starts afresh when enabled again: ticks that passed meanwhile are
	// skipped, not replayed.
	e.schedMu.Lock()
	for id := range e.schedSeen {
		if !enabled[id] {
			delete(e.schedSeen, id)
		}
	}
	e.schedMu.Unlock()
	return started, nil
}

// dueTick returns the latest tick of a schedule in (since, now], in the schedule's zone.
func dueTick(cfg map[string]any, since, now time.Time) (time.Time, bool) {
	spec, _ := cfg["cron"].(string)
	sched, err := cronParser.Parse(spec)
	if err != nil || !now.After(since) {
		return time.Time{}, false
	}
	loc := scheduleLocation(cfg)
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		// "@every 10m" counts whole intervals from the Unix epoch, not from when an instance
		// started, so every instance sees the same ticks.
		step := int64(every.Delay / time.Second)
		tick := time.Unix(now.Unix()-now.Unix()%step, 0)
		return tick.In(loc), tick.After(since)
	}
	var tick time.Time
	for t := sched.Next(since.In(loc)); !t.After(now) && !t.IsZero(); t = sched.Next(t) {
		tick = t
	}
	return tick, !tick.IsZero()
}

func scheduleLocation(cfg map[string]any) *time.Location {
	name, _ := cfg["timezone"].(string)
	if name == "" {
		name = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}
