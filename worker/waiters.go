package worker

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Waiters wakes the callers waiting on something named by a key (a message id) when it may have
// changed, in this process. A caller adds itself before it first reads what it waits for: a change
// committed after that read is then notified to a Wakeup already registered, which holds the
// notification until the caller looks, so none is missed. Changes made by another process are not
// notified; a caller keeps a slow poll for those. Safe for concurrent use.
type Waiters struct {
	mu    sync.Mutex
	byKey map[string][]Wakeup
	n     int
	limit int
}

// NewWaiters makes a registry of at most limit waiters.
func NewWaiters(limit int) *Waiters {
	return &Waiters{byKey: map[string][]Wakeup{}, limit: limit}
}

// Add registers a waiter on key and returns its Wakeup and the function that removes it, which the
// caller must call however its wait ends. When limit waiters are registered already the Wakeup is
// nil, which never fires: that caller has its poll only.
func (w *Waiters) Add(key string) (Wakeup, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n >= w.limit {
		return nil, func() {}
	}
	wake := NewWakeup()
	w.byKey[key] = append(w.byKey[key], wake)
	w.n++
	return wake, func() { w.remove(key, wake) }
}

// remove takes wake off key's list; a second call finds nothing to remove.
func (w *Waiters) remove(key string, wake Wakeup) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.byKey[key]
	i := slices.Index(list, wake)
	if i < 0 {
		return
	}
	w.n--
	if len(list) == 1 {
		// A key without waiters takes no room: the map holds only keys being waited on.
		delete(w.byKey, key)
		return
	}
	list[i] = list[len(list)-1]
	list[len(list)-1] = nil
	w.byKey[key] = list[:len(list)-1]
}

// Notify wakes every waiter on key without blocking.
func (w *Waiters) Notify(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wake := range w.byKey[key] {
		wake.Notify()
	}
}

// Len is how many waiters are registered.
func (w *Waiters) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Wait calls read until it reports done, d has passed, or ctx ends, and returns read's error. It
// reads first, then again whenever key is notified in this process and every poll for changes
// another process made, and once more when d is up, so the caller is left with what holds at the
// end. A Wait that finds the limit reached polls only.
func (w *Waiters) Wait(ctx context.Context, key string, d, poll time.Duration, read func() (done bool, err error)) error {
	// Registered before the first read: a change committed after that read is notified to it.
	wake, remove := w.Add(key)
	defer remove()
	return Await(ctx, wake, d, poll, true, read)
}

// Await is Wait's loop on a waiter added already. readFirst false skips the first read: the
// caller added the waiter before the change it waits for could start (before a message it sends
// was stored), so nothing can have happened that was not notified.
func Await(ctx context.Context, wake Wakeup, d, poll time.Duration, readFirst bool, read func() (done bool, err error)) error {
	expiry := time.NewTimer(d)
	defer expiry.Stop()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	expired := false
	for {
		if readFirst {
			done, err := read()
			if err != nil || done || expired {
				return err
			}
		}
		readFirst = true
		select {
		case <-ctx.Done():
			return nil
		case <-expiry.C:
			expired = true
		case <-wake:
		case <-ticker.C:
		}
	}
}
