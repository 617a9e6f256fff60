package wecom

import (
	"sync"
	"time"
)

// WeCom's per-app, per-member limits. Past them WeCom drops messages silently, so the limiter
// must pace below them, never discover them. The windows carry a small margin: our clock starts a
// send before WeCom sees it.
const (
	memberPerMinute = 30
	memberPerHour   = 1000
	minuteWindow    = time.Minute + 2*time.Second
	hourWindow      = time.Hour + 5*time.Second
)

// Limiter paces sends per app and member (30/min, 1000/h), per app per day (a configurable
// quota of person-sends) and per group robot (20/min). It remembers send times in memory; the sender seeds it from the
// database at start so a restart does not forget the last hour.
type Limiter struct {
	mu      sync.Mutex
	members map[memberKey][]time.Time // send times within the last hour, oldest first
	days    map[dayKey]int
	robots  map[uint64][]time.Time // a group robot's send times, by channel id
	loc     *time.Location
	// share is how many instances send for the same apps: each paces to its 1/share of WeCom's
	// limits, so together they stay below them.
	share int
}

type memberKey struct {
	app    uint64
	userid string
}

type dayKey struct {
	app uint64
	day string
}

// NewLimiter makes a limiter whose days are counted in loc (WeCom's quota day is China time).
func NewLimiter(loc *time.Location) *Limiter {
	if loc == nil {
		loc = time.UTC
	}
	return &Limiter{members: map[memberKey][]time.Time{}, days: map[dayKey]int{}, robots: map[uint64][]time.Time{}, loc: loc, share: 1}
}

// SetShare tells the limiter how many instances are sending (at least 1).
func (l *Limiter) SetShare(instances int) {
	l.mu.Lock()
	l.share = max(1, instances)
	l.mu.Unlock()
}

// limits are this instance's part of WeCom's per-member limits and of a daily quota.
func (l *Limiter) limits(dailyQuota int) (perMinute, perHour, quota int) {
	perMinute, perHour = max(1, memberPerMinute/l.share), max(1, memberPerHour/l.share)
	if dailyQuota > 0 {
		quota = max(1, dailyQuota/l.share)
	}
	return perMinute, perHour, quota
}

// Take splits users into those who may receive a message from app now — their sends are recorded
// at once, so concurrent senders see them — and those who must wait, with the earliest time one
// of them may receive. dailyQuota (0 = unlimited) bounds the app's person-sends per day; when it
// is used up, every user waits for the next day.
func (l *Limiter) Take(app uint64, users []string, now time.Time, dailyQuota int) (allowed, deferred []string, retryAt time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	day := dayKey{app, now.In(l.loc).Format("2006-01-02")}
	perMinute, perHour, quota := l.limits(dailyQuota)
	for _, u := range users {
		k := memberKey{app, u}
		times := prune(l.members[k], now)
		l.members[k] = times
		free := freeAt(times, now, perMinute, perHour)
		if quota > 0 && l.days[day] >= quota {
			y, m, d := now.In(l.loc).Date()
			free = time.Date(y, m, d+1, 0, 0, 1, 0, l.loc)
		}
		if free.After(now) {
			deferred = append(deferred, u)
			if retryAt.IsZero() || free.Before(retryAt) {
				retryAt = free
			}
			continue
		}
		l.members[k] = append(times, now)
		l.days[day]++
		allowed = append(allowed, u)
	}
	// UTC: the time is stored, and SQLite compares stored times as text.
	return allowed, deferred, retryAt.UTC()
}

// Record notes sends that happened elsewhere (seeding after a restart).
func (l *Limiter) Record(app uint64, users []string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range users {
		k := memberKey{app, u}
		l.members[k] = append(l.members[k], at)
	}
	l.days[dayKey{app, at.In(l.loc).Format("2006-01-02")}] += len(users)
}

// prune drops send times older than the hour window.
func prune(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= hourWindow {
		i++
	}
	if i == len(times) {
		return nil
	}
	return times[i:]
}

// freeAt is when a member with these recent send times may receive one more, at most perMinute
// in any minute and perHour in any hour.
func freeAt(times []time.Time, now time.Time, perMinute, perHour int) time.Time {
	free := now
	if n := len(times); n >= perHour {
		free = later(free, times[n-perHour].Add(hourWindow))
	}
	if n := len(times); n >= perMinute {
		free = later(free, times[n-perMinute].Add(minuteWindow))
	}
	return free
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
