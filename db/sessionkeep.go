package db

import (
	"sync"
	"sync/atomic"
	"time"

	"guildhall/db/model"
)

// keptSession is what browserSessionQuery read for an account, kept by one
// server while the account's version (session_versions) and the session_epoch it was
// read with hold (migration 00016 moves them in the transaction of every
// change they follow). The session's own row is never kept: every page
// reads it (sessionCheckQuery), so a sign-out ends the session on every
// server at once.
type keptSession struct {
	version, epoch int64
	// until: the banner flags may turn off at this instant with no row
	// changing (a pending invitation or transfer expires); zero: no bound.
	until                            time.Time
	account                          model.Account
	invitations, transfers, autoJoin bool
	rows                             []sessionWorkspace // read-only once kept
}

// keptSessionsMax bounds a server's copies (about a kilobyte each).
const keptSessionsMax = 10000

// sessionKeep holds the copies by account id. The zero value is ready.
type sessionKeep struct {
	mu     sync.Mutex
	m      map[int64]*keptSession
	hits   atomic.Int64
	misses atomic.Int64
}

// get answers the copy of account when it was read at version and epoch and
// its flags still hold at now; nil otherwise.
func (k *sessionKeep) get(account, version, epoch int64, now time.Time) *keptSession {
	k.mu.Lock()
	c := k.m[account]
	k.mu.Unlock()
	if c == nil || c.version != version || c.epoch != epoch || (!c.until.IsZero() && !now.Before(c.until)) {
		k.misses.Add(1)
		return nil
	}
	k.hits.Add(1)
	return c
}

// put keeps c for its account, replacing an older copy. When full it drops
// an arbitrary tenth (map order), which a busy server reads back in one
// statement each.
func (k *sessionKeep) put(c *keptSession) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[int64]*keptSession)
	}
	if old := k.m[c.account.ID]; old == nil && len(k.m) >= keptSessionsMax {
		n := keptSessionsMax / 10
		for id := range k.m {
			delete(k.m, id)
			if n--; n == 0 {
				break
			}
		}
	} else if old != nil && (old.version > c.version || old.epoch > c.epoch) {
		return // a newer copy landed first
	}
	k.m[c.account.ID] = c
}

// SessionKeepStats reports how often a page found its session's copy (for
// /metrics).
func (s *Store) SessionKeepStats() (hits, misses int64) {
	return s.sessions.hits.Load(), s.sessions.misses.Load()
}
