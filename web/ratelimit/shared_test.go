package ratelimit_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/web/ratelimit"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Two servers on one database draw from one budget: 10 attempts split across
// them, the 11th is refused on either.
func TestSharedLimitersShareOneBudget(t *testing.T) {
	dsn := dbtest.NewDSN(t)
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	// Two connection pools to one database, as two processes would have.
	d := open(t, dsn)
	d2 := open(t, dsn)
	a := ratelimit.NewShared(db.New(d), 10, 15*time.Minute, clock, nil)
	b := ratelimit.NewShared(db.New(d2), 10, 15*time.Minute, clock, nil)
	for i := 0; i < 10; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		if ok, _ := l.Allow("login-ip:1.2.3.4", "login-email:a@b.c"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	for name, l := range map[string]*ratelimit.Limiter{"a": a, "b": b} {
		ok, wait := l.Allow("login-ip:9.9.9.9", "login-email:a@b.c")
		if ok || wait <= 0 || wait > 15*time.Minute {
			t.Fatalf("server %s after the budget: ok=%v wait=%v", name, ok, wait)
		}
	}
	// Another account from a fresh IP is not affected.
	if ok, _ := b.Allow("login-ip:5.5.5.5", "login-email:other@b.c"); !ok {
		t.Fatal("unrelated keys refused")
	}
	// A reset on one server clears the account on both.
	a.Reset("login-email:a@b.c")
	if ok, _ := b.Allow("login-email:a@b.c"); !ok {
		t.Fatal("refused after reset on the other server")
	}
	// The next window starts fresh.
	now = now.Add(15 * time.Minute)
	if ok, _ := a.Allow("login-ip:1.2.3.4", "login-email:a@b.c"); !ok {
		t.Fatal("refused in the next window")
	}
}

func open(t *testing.T, dsn string) *sqlx.DB {
	d, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Under concurrency the budget holds exactly: 50 goroutines on two limiters,
// 10 allowed.
func TestSharedLimiterConcurrent(t *testing.T) {
	d := dbtest.New(t)
	a := ratelimit.NewShared(db.New(d), 10, time.Hour, nil, nil)
	b := ratelimit.NewShared(db.New(d), 10, time.Hour, nil, nil)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l := a
			if i%2 == 0 {
				l = b
			}
			// Keys in both orders, and a repeat: no deadlock, no double count.
			keys := []string{"k1", "k2", "k1"}
			if i%3 == 0 {
				keys = []string{"k2", "k1"}
			}
			if ok, _ := l.Allow(keys...); ok {
				allowed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Fatalf("allowed %d of 50, want 10", got)
	}
}

// Old windows are pruned, and huge keys are stored as a hash.
func TestSharedLimiterPrunesAndBoundsKeys(t *testing.T) {
	d := dbtest.New(t)
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := ratelimit.NewShared(db.New(d), 1000, time.Minute, clock, nil)
	huge := "login-email:" + strings.Repeat("x", 1<<20)
	l.Allow(huge)
	for i := 0; i < 498; i++ {
		l.Allow(fmt.Sprintf("k%d", i))
	}
	var maxLen int
	if err := d.Get(&maxLen, `SELECT max(length(key)) FROM rate_limits`); err != nil {
		t.Fatal(err)
	}
	if maxLen > 128 {
		t.Fatalf("a key of %d bytes was stored", maxLen)
	}
	now = now.Add(2 * time.Minute)
	l.Allow("fresh") // the 500th call prunes windows before the current one
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM rate_limits`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d rows after pruning, want 1 (the current window)", n)
	}
}

// With the database gone the limiter lets attempts through (and logs): the
// sign-in they guard fails on the same database anyway, and a limiter outage
// must not lock every account out once the database is back.
func TestSharedLimiterFailsOpen(t *testing.T) {
	d := open(t, dbtest.NewDSN(t))
	l := ratelimit.NewShared(db.New(d), 1, time.Minute, nil, nil)
	d.Close()
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d refused with the database closed", i+1)
		}
	}
}
