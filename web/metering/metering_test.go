package metering

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
	"guildhall/web/request"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestTakeFlushAndRefresh: counts stay local until a flush, a flush moves
// them to the database and refreshes what other instances wrote, a new
// month starts from zero, and an org that is gone is no org context.
func TestTakeFlushAndRefresh(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	store := db.New(dbtest.New(t), db.WithClock(clock))
	ctx := context.Background()
	var org int64
	if err := store.DB().Get(&org, `INSERT INTO orgs (kind, slug, display_name, limit_monthly_requests) VALUES ('team', 'meter', 'Meter', 5) RETURNING id`); err != nil {
		t.Fatal(err)
	}
	a, b := New(store, Options{}), New(store, Options{})
	take := func(m *Meter, want bool, remaining int64) {
		t.Helper()
		d, err := m.Take(ctx, org, 3)
		if err != nil || d.Allowed != want || d.Remaining != remaining || d.Limit != 5 {
			t.Fatalf("Take = %+v, %v; want allowed %v remaining %d", d, err, want, remaining)
		}
	}
	take(a, true, 4)
	take(a, true, 3)
	take(b, true, 4) // b has not seen a's two yet
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil { // writes its one, reads a's two
		t.Fatal(err)
	}
	take(b, true, 1)
	take(b, true, 0)  // the fifth between the two instances
	take(b, false, 0) // refused, and not counted
	var daily, monthly int
	store.DB().Get(&daily, `SELECT sum(requests) FROM usage_daily WHERE org_id = $1 AND day = '2026-01-31'`, org)
	if daily != 3 { // b's last two are still local
		t.Fatalf("recorded %d, want 3", daily)
	}
	take(a, true, 2) // a saw 2 at its last flush: instances overshoot by what the others counted since
	for _, m := range []*Meter{b, a} {
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	take(a, false, 0)
	store.DB().Get(&monthly, `SELECT requests FROM usage_monthly WHERE org_id = $1 AND month = '2026-01-01'`, org)
	if monthly != 6 {
		t.Fatalf("January has %d, want 6", monthly)
	}
	// February: the count starts again.
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	take(b, true, 4)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	store.DB().Get(&monthly, `SELECT requests FROM usage_monthly WHERE org_id = $1 AND month = '2026-02-01'`, org)
	if monthly != 1 {
		t.Fatalf("February has %d, want 1", monthly)
	}
	if _, err := a.Take(ctx, org+999, 0); !errors.Is(err, errNoOrg) {
		t.Fatalf("a missing org: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkMiddleware is the middleware's own cost on a request in an org's
// context (cached membership, counting, three headers), against the same
// chain with metering off.
func BenchmarkMiddleware(b *testing.B) {
	store := db.New(dbtest.New(b))
	var org, acc int64
	store.DB().Get(&org, `INSERT INTO orgs (kind, slug, display_name, limit_monthly_requests) VALUES ('team', 'bench', 'Bench', 2000000000) RETURNING id`)
	store.DB().Get(&acc, `INSERT INTO accounts (email, name) VALUES ('b@example.com', 'B') RETURNING id`)
	store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'owner')`, org, acc)
	m := New(store, Options{Interval: time.Hour})
	e := echo.New()
	h := m.Middleware(func(c echo.Context) error { return nil })
	run := func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "/api/orgs/bench/teams", nil)
			c := e.NewContext(req, httptest.NewRecorder())
			c.SetPath("/api/orgs/:org/teams")
			c.SetParamNames("org")
			c.SetParamValues("bench")
			request.SetAccount(c, model.Account{ID: acc}, "")
			if err := h(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("on", run)
	m.SetEnabled(false)
	b.Run("off", run)
	m.Close()
}
