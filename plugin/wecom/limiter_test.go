package wecom

import (
	"testing"
	"time"
)

// A member gets at most 30 in a minute and 1000 in an hour; others are not held back; the
// deferred learn when their window frees up.
func TestLimiterPacesPerMemberPerMinuteAndHour(t *testing.T) {
	t.Parallel()
	l := NewLimiter(nil)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var times []time.Time
	for minute := 0; minute < 70; minute++ {
		for i := 0; i < 40; i++ {
			at := now.Add(time.Duration(minute)*minuteWindow + time.Duration(i)*time.Second)
			allowed, deferred, retryAt := l.Take(1, []string{"busy", "other"}, at, 0)
			for _, u := range allowed {
				if u == "busy" {
					times = append(times, at)
				}
			}
			if len(deferred) > 0 && !retryAt.After(at) {
				t.Fatalf("minute %d: deferred without a later retry time", minute)
			}
		}
	}
	// WeCom counts rolling windows: no minute may hold more than 30, no hour more than 1000.
	for i, start := range times {
		var inMinute, inHour int
		for _, t2 := range times[i:] {
			if t2.Sub(start) < time.Minute {
				inMinute++
			}
			if t2.Sub(start) < time.Hour {
				inHour++
			}
		}
		if inMinute > 30 || inHour > 1000 {
			t.Fatalf("from %v: %d in a minute, %d in an hour", start, inMinute, inHour)
		}
	}
	if len(times) < 1000 {
		t.Fatalf("busy got only %d in 70 minutes: pacing is too slow", len(times))
	}
}

func TestLimiterDailyQuotaWaitsForTheNextChinaDay(t *testing.T) {
	t.Parallel()
	cst := time.FixedZone("CST", 8*3600)
	l := NewLimiter(cst)
	now := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC) // 23:00 in China
	allowed, deferred, _ := l.Take(7, []string{"a", "b", "c"}, now, 2)
	if len(allowed) != 2 || len(deferred) != 1 {
		t.Fatalf("allowed %v deferred %v", allowed, deferred)
	}
	_, _, retryAt := l.Take(7, []string{"c"}, now, 2)
	if want := time.Date(2026, 11, 3, 0, 0, 1, 0, cst); !retryAt.Equal(want) || retryAt.Location() != time.UTC {
		t.Fatalf("retry at %v, want %v in UTC", retryAt, want)
	}
}

// With three instances sending, each paces a member to a third of WeCom's limits, so together
// they stay within 30 a minute.
func TestLimiterShare(t *testing.T) {
	l := NewLimiter(time.UTC)
	l.SetShare(3)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	got := 0
	for i := range 30 {
		allowed, _, _ := l.Take(1, []string{"zhangsan"}, now.Add(time.Duration(i)*time.Second), 0)
		got += len(allowed)
	}
	if got != 10 {
		t.Fatalf("%d sends in the first minute with a share of 3, want 10", got)
	}
	l.SetShare(1)
	if allowed, _, _ := l.Take(1, []string{"zhangsan"}, now.Add(31*time.Second), 0); len(allowed) != 1 {
		t.Fatal("alone again, the instance may use the whole limit")
	}
}
