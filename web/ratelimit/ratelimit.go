// Package ratelimit is a small in-memory fixed-window limiter keyed by
// strings ("ip:1.2.3.4", "email:a@b.c"), used to slow down password guessing.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows Max events per Window for each key.
type Limiter struct {
	Max    int
	Window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweeps  int
}

type bucket struct {
	start time.Time
	count int
}

// New makes a limiter; now may be nil (time.Now).
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{Max: max, Window: window, now: now, buckets: map[string]*bucket{}}
}

// Allow counts one event for every key and reports whether all of them are
// still within the limit; when not, it says how long until the window resets.
func (l *Limiter) Allow(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	ok := true
	var wait time.Duration
	for _, k := range keys {
		b := l.buckets[k]
		if b == nil || now.Sub(b.start) >= l.Window {
			b = &bucket{start: now}
			l.buckets[k] = b
		}
		b.count++
		if b.count > l.Max {
			ok = false
			if w := l.Window - now.Sub(b.start); w > wait {
				wait = w
			}
		}
	}
	return ok, wait
}

// Reset forgets a key (after a successful sign-in, the account's count).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

// sweep drops expired buckets now and then so memory stays bounded.
func (l *Limiter) sweep(now time.Time) {
	l.sweeps++
	if l.sweeps%1000 != 0 {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.start) >= l.Window {
			delete(l.buckets, k)
		}
	}
}
