package plugin

import (
	"fmt"
	"time"

	"github.com/wecomflow/wecomflow/problem"
)

// QuietHours are a channel's quiet hours (SPEC §11), an option every channel type takes: a
// message due inside the window waits for its end. A window whose start is after its end
// crosses midnight.
type QuietHours struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	Timezone string `json:"timezone"`
}

// Check adds the problems of q under prefix ("quietHours"): HH:MM times that differ and an IANA
// time zone.
func (q QuietHours) Check(errs problem.Fields, prefix string) {
	start, okStart := clock(q.Start)
	if !okStart {
		errs.Add(prefix+".start", "must be a time of day as HH:MM, such as 22:00")
	}
	end, okEnd := clock(q.End)
	if !okEnd {
		errs.Add(prefix+".end", "must be a time of day as HH:MM, such as 08:00")
	}
	if okStart && okEnd && start == end {
		errs.Add(prefix+".end", "must differ from start: a window of no length or of the whole day is not quiet hours")
	}
	if _, err := location(q.Timezone); err != nil {
		errs.Add(prefix+".timezone", "must be an IANA time zone, such as Asia/Shanghai")
	}
}

// Until says whether t falls inside the window and, if so, when the window ends (in the
// window's zone). Window edges
// are built with time.Date in the zone, so a window that crosses midnight or a DST change is
// measured in the zone's wall clock whatever the host's zone.
func (q QuietHours) Until(t time.Time) (time.Time, bool) {
	start, okStart := clock(q.Start)
	end, okEnd := clock(q.End)
	loc, err := location(q.Timezone)
	if !okStart || !okEnd || err != nil || start == end {
		return time.Time{}, false
	}
	y, m, d := t.In(loc).Date()
	endDay := 0
	if start > end {
		endDay = 1
	}
	// The window that began yesterday (crossing midnight) or the one that begins today.
	for _, day := range []int{d - 1, d} {
		from := time.Date(y, m, day, int(start/time.Hour), int(start%time.Hour/time.Minute), 0, 0, loc)
		to := time.Date(y, m, day+endDay, int(end/time.Hour), int(end%time.Hour/time.Minute), 0, 0, loc)
		if !t.Before(from) && t.Before(to) {
			return to, true
		}
	}
	return time.Time{}, false
}

// String is the window as people read it: "22:00–08:00 Asia/Shanghai".
func (q QuietHours) String() string { return fmt.Sprintf("%s–%s %s", q.Start, q.End, q.Timezone) }

// clock reads an HH:MM time of day as the duration since midnight.
func clock(s string) (time.Duration, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, true
}

// location loads an IANA zone; "" and "Local" are refused, as they would follow the host's zone.
func location(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("plugin: no time zone named")
	}
	return time.LoadLocation(name)
}
