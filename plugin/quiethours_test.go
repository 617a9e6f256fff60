package plugin

import (
	"testing"
	"time"
)

// Windows are measured on the zone's wall clock: across midnight, and across a DST change, where
// a day is 23 or 25 hours long.
func TestQuietHoursUntil(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	night := QuietHours{Start: "22:00", End: "08:00", Timezone: "Asia/Shanghai"}
	day := QuietHours{Start: "09:30", End: "17:00", Timezone: "Asia/Shanghai"}
	// New York leaves DST on 2026-11-01 at 02:00: that night lasts an hour longer.
	ny := QuietHours{Start: "23:00", End: "07:00", Timezone: "America/New_York"}
	for _, c := range []struct {
		q     QuietHours
		at    string
		until string // "" = outside the window
	}{
		{night, "2026-11-02T13:59:59Z", ""},                     // 21:59:59 Shanghai
		{night, "2026-11-02T14:00:00Z", "2026-11-03T00:00:00Z"}, // 22:00, the window's start
		{night, "2026-11-02T17:00:00Z", "2026-11-03T00:00:00Z"}, // 01:00 the next day
		{night, "2026-11-02T23:59:00Z", "2026-11-03T00:00:00Z"}, // 07:59
		{night, "2026-11-03T00:00:00Z", ""},                     // 08:00, the window's end
		{day, "2026-11-02T01:30:00Z", "2026-11-02T09:00:00Z"},   // 09:30 Shanghai
		{day, "2026-11-02T09:00:00Z", ""},                       // 17:00
		{day, "2026-11-02T15:00:00Z", ""},                       // 23:00
		{ny, "2026-11-01T04:30:00Z", "2026-11-01T12:00:00Z"},    // 00:30 EDT; 07:00 is EST by then
		{ny, "2026-11-01T11:59:00Z", "2026-11-01T12:00:00Z"},    // 06:59 EST
		{ny, "2026-03-08T06:00:00Z", "2026-03-08T11:00:00Z"},    // 01:00 EST; 07:00 is EDT by then
		{QuietHours{Start: "22:00", End: "08:00", Timezone: "Nowhere/Else"}, "2026-11-02T15:00:00Z", ""},
	} {
		until, inside := c.q.Until(utc(c.at))
		if got := map[bool]string{true: until.UTC().Format(time.RFC3339)}[inside]; got != c.until {
			t.Errorf("%v at %s: until %q, want %q", c.q, c.at, got, c.until)
		}
	}
}
