package workflow

import (
	"context"
	"time"

	"github.com/wecomflow/wecomflow/worker"
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

// catchUp is how far back a look makes up ticks it did not see: a leader taking over from one
// that died, or a short outage of every instance. Ticks older than that are skipped — after a long
// outage, a flood of stale notifications helps nobody.
const catchUp = 5 * time.Minute

// FireSchedules starts an execution for each tick of each enabled schedule workflow that came
// since the last look, and returns how many it started. A tick's execution carries the tick as
// its dedup key, so the database lets one instance start it even if two believe they lead. The
// first look of an instance continues from the workflow's last fired tick; ticks more than
// catchUp ago are not made up.
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
			// Continue from the last tick fired, by whichever instance; a schedule that never
			// fired starts from now.
			last, ok, err := e.store.LastTick(ctx, w.ID)
			if err != nil {
				return started, err
			}
			since = now
			if ok {
				since = last
			}
		}
		for _, tick := range dueTicks(def.Trigger.Config, later(since, now.Add(-catchUp)), now) {
			ctxData := map[string]any{"date": tick.Format(time.RFC3339), "data": def.Trigger.Config["data"]}
			_, fired, err := e.start(ctx, w, TriggerSchedule, ctxData, "tick:"+tick.UTC().Format(time.RFC3339))
			if err != nil {
				// The look is not recorded, so the next one tries these ticks again.
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
	// A workflow disabled now starts afresh when enabled again, from its last tick.
	e.schedMu.Lock()
	for id := range e.schedSeen {
		if !enabled[id] {
			delete(e.schedSeen, id)
		}
	}
	e.schedMu.Unlock()
	return started, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dueTicks returns the ticks of a schedule in (since, now], oldest first, in the schedule's zone.
func dueTicks(cfg map[string]any, since, now time.Time) []time.Time {
	spec, _ := cfg["cron"].(string)
	loc := scheduleLocation(cfg)
	sched, err := worker.ParseSchedule(spec, loc)
	if err != nil || !now.After(since) {
		return nil
	}
	var ticks []time.Time
	for t := worker.NextTick(sched, since.In(loc)); !t.After(now) && !t.IsZero(); t = worker.NextTick(sched, t) {
		ticks = append(ticks, t)
	}
	return ticks
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
