package worker

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule reads the cron spec of a schedule — 5 fields ("0 9 * * 1-5") or a descriptor
// ("@daily", "@every 10m"), optionally led by CRON_TZ=<zone> — evaluated in loc unless it names
// its own zone. It is the one door to robfig/cron, which panics on some inputs (a CRON_TZ= with
// no fields after it): every bad spec is an error here, never a panic.
func ParseSchedule(spec string, loc *time.Location) (sched cron.Schedule, err error) {
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(spec, prefix); ok && !strings.Contains(strings.TrimSpace(rest), " ") {
			return nil, fmt.Errorf("%s names a time zone but no schedule after it", prefix)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("the spec cannot be read (%v)", r)
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok && !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		ss.Location = loc
	}
	return sched, nil
}

// NextTick is the schedule's first tick after t. "@every" ticks are whole intervals counted from
// the Unix epoch rather than from when a process started, so every instance sees the same ticks.
func NextTick(sched cron.Schedule, t time.Time) time.Time {
	if d, ok := sched.(cron.ConstantDelaySchedule); ok && d.Delay > 0 {
		step := int64(d.Delay / time.Second)
		return time.Unix(t.Unix()-t.Unix()%step+step, 0).In(t.Location())
	}
	return sched.Next(t)
}
