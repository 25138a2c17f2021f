package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"
)

// Store keeps the shared counters (db.Store in production).
type Store interface {
	HitRateLimits(ctx context.Context, keys []string, windowStart time.Time) ([]int, error)
	ResetRateLimit(ctx context.Context, key string) error
	PruneRateLimits(ctx context.Context, before time.Time) (int64, error)
}

// shared keeps the counts in PostgreSQL, so every server on one database
// draws from the same budget. Windows are aligned to the clock (multiples of
// Window since the Unix epoch), so all servers agree on where a window starts
// without talking to each other.
type shared struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
	hits  atomic.Int64
}

// NewShared makes a limiter whose counts live in store; now may be nil
// (time.Now), log may be nil (slog.Default).
func NewShared(store Store, max int, window time.Duration, now func() time.Time, log *slog.Logger) *Limiter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Limiter{Max: max, Window: window, b: &shared{store: store, now: now, log: log}}
}

// opTimeout bounds one limiter query: a slow database must not hold a
// sign-in for long.
const opTimeout = 2 * time.Second

// pruneEvery is how many calls pass between deletions of old windows.
const pruneEvery = 500

// allow upserts every key's counter in one statement.
// If the database cannot be reached it allows the event (and logs): the
// sign-in itself then fails on the same database, so nothing is opened up.
func (s *shared) allow(l *Limiter, keys []string) (bool, time.Duration) {
	now := s.now().UTC()
	start := now.Truncate(l.Window)
	ks := distinct(keys)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if s.hits.Add(1)%pruneEvery == 0 {
		if _, err := s.store.PruneRateLimits(ctx, start); err != nil {
			s.log.Warn("rate limit prune failed", "err", err)
		}
	}
	counts, err := s.store.HitRateLimits(ctx, ks, start)
	if err != nil {
		s.log.Error("rate limit unavailable, allowing", "err", err)
		return true, 0
	}
	for _, n := range counts {
		if n > l.Max {
			return false, start.Add(l.Window).Sub(now)
		}
	}
	return true, 0
}

func (s *shared) reset(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := s.store.ResetRateLimit(ctx, storedKey(key)); err != nil {
		s.log.Error("rate limit reset failed", "err", err)
	}
}

// distinct returns the stored form of keys, without repeats, sorted: one
// upsert may not touch a row twice, and a fixed lock order keeps concurrent
// multi-key hits from deadlocking.
func distinct(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		k = storedKey(k)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// storedKey bounds key size: long keys (an attacker's 1 MB "email") are kept
// as their hash.
func storedKey(k string) string {
	if k == "" {
		return "empty:"
	}
	if len(k) <= 128 {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(sum[:])
}
