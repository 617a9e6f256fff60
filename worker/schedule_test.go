package worker

import (
	"testing"
	"time"
)

// @every ticks are the same on every instance, whenever it started; cron specs read Asia/Shanghai
// unless they say otherwise.
func TestSchedules(t *testing.T) {
	t.Parallel()
	shanghai := time.FixedZone("CST", 8*3600)
	every, err := ParseSchedule("@every 6h", shanghai)
	if err != nil {
		t.Fatal(err)
	}
	a := NextTick(every, time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC))
	b := NextTick(every, time.Date(2026, 1, 1, 5, 59, 0, 0, time.UTC))
	if !a.Equal(b) || !a.Equal(time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("@every 6h ticks at %v and %v", a, b)
	}
	for spec, want := range map[string]time.Time{
		"0 2 * * *":             time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC),
		"CRON_TZ=UTC 0 2 * * *": time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC),
		"@daily":                time.Date(2026, 1, 1, 16, 0, 0, 0, time.UTC),
	} {
		s, err := ParseSchedule(spec, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		if got := NextTick(s, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(want) {
			t.Errorf("%s: next %v, want %v", spec, got, want)
		}
	}
	// robfig/cron panics on the zone-only specs; here each is an error that says what is wrong.
	for _, spec := range []string{"every day", "", "TZ=", "CRON_TZ=", "CRON_TZ=Asia/Shanghai", "TZ=UTC ", "CRON_TZ=Nowhere/City 0 2 * * *", "* * * * * *"} {
		if _, err := ParseSchedule(spec, shanghai); err == nil {
			t.Errorf("the bad spec %q parsed", spec)
		}
	}
}
