package workflow

import (
	"strings"
	"testing"
	"time"
)

// Ticks are the same for every instance, whenever it started: cron ticks on the zone's clock,
// @every ticks on whole intervals since the Unix epoch; every tick of a gap is listed.
func TestDueTick(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	cases := []struct {
		cfg        map[string]any
		since, now string
		want       string // the ticks, space-separated; "" when nothing is due
	}{
		{map[string]any{"cron": "0 9 * * *"}, "2026-11-02T00:59:00Z", "2026-11-02T01:00:00Z", "2026-11-02T09:00:00+08:00"},
		{map[string]any{"cron": "0 9 * * *", "timezone": "UTC"}, "2026-11-02T00:59:00Z", "2026-11-02T01:00:00Z", ""},
		{map[string]any{"cron": "*/5 * * * *", "timezone": "UTC"}, "2026-11-02T00:00:00Z", "2026-11-02T00:17:00Z", "2026-11-02T00:05:00Z 2026-11-02T00:10:00Z 2026-11-02T00:15:00Z"},
		{map[string]any{"cron": "@every 7m"}, "2026-11-02T00:00:00Z", "2026-11-02T00:07:00Z", "2026-11-02T08:01:00+08:00"},
		{map[string]any{"cron": "@every 7m"}, "2026-11-02T00:05:00Z", "2026-11-02T00:06:00Z", ""},
		{map[string]any{"cron": "@every 7m"}, "2026-11-02T00:05:00Z", "2026-11-02T00:05:00Z", ""},
	}
	for _, c := range cases {
		var got []string
		for _, tick := range dueTicks(c.cfg, at(c.since), at(c.now)) {
			got = append(got, tick.Format(time.RFC3339))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%v from %s to %s: %q, want %q", c.cfg, c.since, c.now, got, c.want)
		}
	}
	// 00:01 UTC that day is a whole number of 7-minute intervals after the epoch.
	if at("2026-11-02T00:01:00Z").Unix()%420 != 0 {
		t.Fatal("the @every cases assume a tick at 00:01 UTC")
	}
}
