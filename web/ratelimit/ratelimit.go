// Package ratelimit is a fixed-window limiter keyed by strings ("ip:1.2.3.4",
// "email:a@b.c"), used to slow down password guessing. The server uses the
// PostgreSQL-backed limiter (NewShared), so every instance on one database
// shares one budget; New keeps counts in process memory (one process only).
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows Max events per Window for each key.
type Limiter struct {
	Max    int
	Window time.Duration
	b      backend
}

// backend counts events: memory (one process) or PostgreSQL (shared).
type backend interface {
	allow(l *Limiter, keys []string) (bool, time.Duration)
	reset(key string)
}

// Allow counts one event for every key and reports whether all of them are
// still within the limit; when not, it says how long until the window resets.
func (l *Limiter) Allow(keys ...string) (bool, time.Duration) {
	if len(keys) == 0 {
		return true, 0
	}
	return l.b.allow(l, keys)
}

// Reset forgets a key (after a successful sign-in, the account's count).
func (l *Limiter) Reset(key string) { l.b.reset(key) }

// New makes an in-memory limiter; now may be nil (time.Now).
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{Max: max, Window: window, b: &memory{now: now, buckets: map[string]*bucket{}}}
}

type memory struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	sweeps  int
}

type bucket struct {
	start time.Time
	count int
}

func (m *memory) allow(l *Limiter, keys []string) (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now, l.Window)
	ok := true
	var wait time.Duration
	for _, k := range keys {
		b := m.buckets[k]
		if b == nil || now.Sub(b.start) >= l.Window {
			b = &bucket{start: now}
			m.buckets[k] = b
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

func (m *memory) reset(key string) {
	m.mu.Lock()
	delete(m.buckets, key)
	m.mu.Unlock()
}

// sweep drops expired buckets now and then so memory stays bounded.
func (m *memory) sweep(now time.Time, window time.Duration) {
	m.sweeps++
	if m.sweeps%1000 != 0 {
		return
	}
	for k, b := range m.buckets {
		if now.Sub(b.start) >= window {
			delete(m.buckets, k)
		}
	}
}
