package db

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// HitRateLimits counts one event for each key in the fixed window starting at
// windowStart and returns each key's count in that window, in keys' order.
// One statement: the upsert is atomic, so servers sharing the database share
// one budget. Keys must be distinct; they are locked in sorted order by the
// caller to keep concurrent multi-key hits free of deadlocks.
func (s *Store) HitRateLimits(ctx context.Context, keys []string, windowStart time.Time) ([]int, error) {
	rows, err := s.db.QueryContext(ctx, `
		INSERT INTO rate_limits AS r (key, window_start, count)
		SELECT k, $2, 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i
		ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1
		RETURNING key, count`, pq.Array(keys), windowStart)
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	defer rows.Close()
	got := make(map[string]int, len(keys))
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("rate limit: %w", err)
		}
		got[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = got[k]
	}
	return out, nil
}

// ResetRateLimit forgets a key in every window (a successful sign-in clears
// the account's failed attempts).
func (s *Store) ResetRateLimit(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rate_limits WHERE key = $1`, key); err != nil {
		return fmt.Errorf("reset rate limit: %w", err)
	}
	return nil
}

// PruneRateLimits deletes the counters of windows that started before before.
func (s *Store) PruneRateLimits(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM rate_limits WHERE window_start < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune rate limits: %w", err)
	}
	return res.RowsAffected()
}
