package worker

import (
	"strconv"
	"sync"
	"testing"
)

// A notification waits in the Wakeup until its waiter looks, reaches only the key's waiters, and
// is one however many came; removing a waiter (twice is harmless) frees its place.
func TestWaiters(t *testing.T) {
	t.Parallel()
	w := NewWaiters(2)
	a, doneA := w.Add("m1")
	b, doneB := w.Add("m2")
	w.Notify("m1")
	w.Notify("m1")
	if !woken(a) || woken(a) || woken(b) {
		t.Fatal("m1's waiter should be woken once, m2's not at all")
	}
	// Full: one more waiter gets a Wakeup that never fires, and takes no place.
	c, doneC := w.Add("m1")
	w.Notify("m1")
	if c != nil || woken(c) || w.Len() != 2 {
		t.Fatalf("a waiter past the limit: %v, %d registered", c, w.Len())
	}
	doneC()
	doneA()
	doneA()
	if w.Len() != 1 {
		t.Fatalf("%d registered after removing one of two", w.Len())
	}
	doneB()
	if w.Len() != 0 || len(w.byKey) != 0 {
		t.Fatalf("%d registered, %d keys kept", w.Len(), len(w.byKey))
	}
}

// Waiters come, are notified and go concurrently (run with -race); every one that was notified
// after it registered sees it, and nothing stays behind.
func TestWaitersConcurrently(t *testing.T) {
	t.Parallel()
	w := NewWaiters(1000)
	var wg sync.WaitGroup
	for i := range 64 {
		key := "m" + strconv.Itoa(i%4)
		wg.Go(func() {
			for range 50 {
				wake, done := w.Add(key)
				w.Notify(key)
				<-wake // its own notification at least
				done()
			}
		})
	}
	wg.Wait()
	if w.Len() != 0 || len(w.byKey) != 0 {
		t.Fatalf("%d registered, %d keys kept", w.Len(), len(w.byKey))
	}
}

func woken(w Wakeup) bool {
	select {
	case <-w:
		return true
	default:
		return false
	}
}
