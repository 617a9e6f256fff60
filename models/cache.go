package models

import (
	"sync"
	"time"
)

// maxCached bounds a readCache; past it, it starts again empty.
const maxCached = 1024

// readCache holds rows the hot paths read by key (a send's channel, a request's token) for a
// short while: they are read on every request and change rarely. A change made through this
// store drops them at once (drop); one made on another instance is seen within the ttl.
type readCache[K comparable, V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[K]cachedRead[V]
}

type cachedRead[V any] struct {
	v   V
	gen uint64
	at  time.Time
}

// get is k's value read within ttl, or read now. Errors are not kept.
func (c *readCache[K, V]) get(k K, ttl time.Duration, read func() (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && e.gen == gen && now.Sub(e.at) < ttl {
		return e.v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	// A change while this read ran makes the read stale: it is not kept.
	if c.gen == gen {
		if c.m == nil || len(c.m) >= maxCached {
			c.m = map[K]cachedRead[V]{}
		}
		c.m[k] = cachedRead[V]{v: v, gen: gen, at: now}
	}
	c.mu.Unlock()
	return v, nil
}

// getCopy is get for a read that returns a pointer: the cache keeps the value, and each caller
// gets a copy of its own.
func (c *readCache[K, V]) getCopy(k K, ttl time.Duration, read func() (*V, error)) (*V, error) {
	v, err := c.get(k, ttl, func() (V, error) {
		p, err := read()
		if err != nil {
			var zero V
			return zero, err
		}
		return *p, nil
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// drop forgets every value.
func (c *readCache[K, V]) drop() {
	c.mu.Lock()
	c.gen++
	c.m = nil
	c.mu.Unlock()
}
