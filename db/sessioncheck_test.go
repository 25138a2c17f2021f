package db_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
	"guildhall/db/querycount"
)

// newCountingTG is newTG on connections that count statements (querycount).
func newCountingTG(t *testing.T) *tgEnv {
	t.Helper()
	conn, err := querycount.Connector(dbtest.NewDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	pool := sqlx.NewDb(sql.OpenDB(conn), "postgres")
	t.Cleanup(func() { pool.Close() })
	e := &tgEnv{t: t, ctx: context.Background(), now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.s = db.New(pool, db.WithFastPasswordHashing(), db.WithClock(func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	}))
	return e
}

// TestDeferredSessionCheck: a page whose session this server checked before
// reads it from memory and carries the check in its first read
// (db/sessioncheck.go). The read answers what it answers without the check,
// in the same order, in one statement; a session ended, or moved by a role
// change, an org change or a second-factor step, lets no row through, and
// the check then settles as changed: no write runs under it.
func TestDeferredSessionCheck(t *testing.T) {
	e := newCountingTG(t)
	owner, oacc := e.user("Olive Owner")
	org := e.org(owner, "Acme")
	var ids []int64
	for _, n := range []string{"Cara Member", "Abe Member", "Bea Member"} {
		_, acc := e.user(n)
		ids = append(ids, acc.ID)
		if _, err := e.s.DB().Exec(`INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, 'member', now())`, org, acc.ID); err != nil {
			t.Fatal(err)
		}
	}
	sid, err := e.s.CreateSession(e.ctx, oacc.ID, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.s.KeptBrowserSession(sid); ok {
		t.Fatal("a session never checked on this server was answered from memory")
	}
	full, err := e.s.BrowserSession(e.ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	want, wantTotal, err := e.s.Members(e.ctx, owner, org, "", 1, 20)
	if err != nil {
		t.Fatal(err)
	}

	// kept answers the session from memory, with a fresh check.
	kept := func() (db.BrowserSession, *db.SessionCheck, context.Context, *querycount.Counter) {
		t.Helper()
		bs, chk, ok := e.s.KeptBrowserSession(sid)
		if !ok {
			t.Fatal("a session checked on this server was not answered from memory")
		}
		n := &querycount.Counter{}
		return bs, chk, querycount.With(db.WithSessionCheck(e.ctx, chk), n), n
	}

	bs, chk, ctx, n := kept()
	if !reflect.DeepEqual(bs.Account.ID, full.Account.ID) || !reflect.DeepEqual(bs.Workspaces, full.Workspaces) || bs.Facts != full.Facts {
		t.Errorf("kept session differs from the full read:\n%+v\n%+v", bs, full)
	}
	got, total, err := e.s.Members(ctx, owner, org, "", 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || total != wantTotal {
		t.Errorf("members with the check:\n%+v (%d)\nwithout:\n%+v (%d)", got, total, want, wantTotal)
	}
	if n.N() != 1 {
		t.Errorf("the page with its check ran %d statements, want 1: %q", n.N(), n.Queries())
	}
	if err := e.s.SettleSessionCheck(ctx, chk); err != nil || n.N() != 1 {
		t.Errorf("settle after a read that returned rows: %v, %d statements (want nil, no new one)", err, n.N())
	}

	// A read with no rows proves nothing: the check stays open and settles
	// with a statement of its own.
	_, chk, ctx, n = kept()
	if toks, err := e.s.Tokens(ctx, oacc.ID); err != nil || len(toks) != 0 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	if err := e.s.SettleSessionCheck(ctx, chk); err != nil || n.N() != 2 {
		t.Errorf("settle after an empty read: %v, %d statements (want nil, 2)", err, n.N())
	}

	changes := []struct {
		name   string
		change func()
	}{
		{"another member's role changes (the org's epoch or the account's version does not move)", nil},
		{"the owner renames the org", func() {
			if _, err := e.s.DB().Exec(`UPDATE orgs SET display_name = 'Acme Renamed' WHERE id = $1`, org); err != nil {
				t.Fatal(err)
			}
		}},
		{"the owner's own account changes", func() {
			if _, err := e.s.UpdateProfile(e.ctx, owner, "Olive Renamed"); err != nil {
				t.Fatal(err)
			}
		}},
		{"the owner joins another org (her version moves, the epoch does not)", func() {
			other, _ := e.user("Otto Other")
			o := e.org(other, "Other Org")
			var epoch int64
			if err := e.s.DB().Get(&epoch, `SELECT v FROM session_epoch`); err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.DB().Exec(`INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, 'member', now())`, o, oacc.ID); err != nil {
				t.Fatal(err)
			}
			var after int64
			if err := e.s.DB().Get(&after, `SELECT v FROM session_epoch`); err != nil || after != epoch {
				t.Fatalf("the epoch moved (%d to %d, %v): the case would not isolate the version", epoch, after, err)
			}
		}},
		{"the session steps up to SSO", func() {
			if _, err := e.s.DB().Exec(`UPDATE sessions SET auth_method = 'sso', sso_org_id = $1 WHERE account_id = $2`, org, oacc.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"the session ends (signed out on another server)", func() {
			if err := e.s.DeleteSession(e.ctx, sid); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range changes {
		_, chk, ctx, _ := kept()
		if c.change == nil {
			if _, err := e.s.DB().Exec(`UPDATE memberships SET role = 'admin' WHERE org_id = $1 AND account_id = $2`, org, ids[0]); err != nil {
				t.Fatal(err)
			}
		} else {
			c.change()
		}
		// The members statement always answers a row (the viewer's role
		// and the counts) when the check lets rows through: none is a
		// not-found.
		rows, _, err := e.s.Members(ctx, owner, org, "", 1, 20)
		settled := e.s.SettleSessionCheck(ctx, chk)
		if c.change == nil {
			// An unrelated change keeps the session's check.
			if err != nil || len(rows) == 0 || settled != nil {
				t.Errorf("%s: %d rows (%v), settled %v; want the page and nil", c.name, len(rows), err, settled)
			}
			continue
		}
		if model.CodeOf(err) != model.CodeNotFound || len(rows) != 0 || !errors.Is(settled, db.ErrSessionChanged) {
			t.Errorf("%s: %d rows (%v), settled %v; want none and ErrSessionChanged", c.name, len(rows), err, settled)
		}
		// Nothing runs under a changed check, a write least of all.
		before := accountName(t, e, oacc.ID)
		if _, err := e.s.UpdateProfile(ctx, owner, "Written Under A Changed Session"); !errors.Is(err, db.ErrSessionChanged) {
			t.Errorf("%s: a write under the changed check answered %v", c.name, err)
		}
		if _, _, err := e.s.Members(ctx, owner, org, "", 1, 20); !errors.Is(err, db.ErrSessionChanged) {
			t.Errorf("%s: a read after the check failed answered %v", c.name, err)
		}
		if after := accountName(t, e, oacc.ID); after != before {
			t.Errorf("%s: the write ran: name %q, was %q", c.name, after, before)
		}
		if c.name == "the session ends (signed out on another server)" {
			if _, err := e.s.BrowserSession(e.ctx, sid); model.CodeOf(err) != model.CodeUnauthorized {
				t.Errorf("the ended session read in full: %v", err)
			}
			if _, _, ok := e.s.KeptBrowserSession(sid); ok {
				t.Error("the ended session is still answered from memory")
			}
			continue
		}
		// The full read takes the new state and remembers it.
		if _, err := e.s.BrowserSession(e.ctx, sid); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSessionCheckHoldsBackWrites: a write (or a transaction) under a check
// no read has settled settles it first, with a statement of its own, and a
// session seen more than a minute ago is read in full (to be marked seen).
func TestSessionCheckHoldsBackWrites(t *testing.T) {
	e := newCountingTG(t)
	owner, oacc := e.user("Olive Owner")
	sid, err := e.s.CreateSession(e.ctx, oacc.ID, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.BrowserSession(e.ctx, sid); err != nil {
		t.Fatal(err)
	}
	_, chk, ok := e.s.KeptBrowserSession(sid)
	if !ok {
		t.Fatal("not answered from memory")
	}
	n := &querycount.Counter{}
	ctx := querycount.With(db.WithSessionCheck(e.ctx, chk), n)
	if _, err := e.s.UpdateProfile(ctx, owner, "Olive Written"); err != nil {
		t.Fatal(err)
	}
	if got := accountName(t, e, oacc.ID); got != "Olive Written" {
		t.Errorf("name %q after the write under a held check", got)
	}
	if qs := n.Queries(); len(qs) < 2 || !strings.HasPrefix(qs[0], "SELECT EXISTS (SELECT 1 FROM sessions s WHERE s.id_hash = $1") {
		t.Errorf("the write did not settle the check first: %q", qs)
	}
	e.advance(61 * time.Second)
	if _, _, ok := e.s.KeptBrowserSession(sid); ok {
		t.Error("a session last marked seen over a minute ago was answered from memory")
	}
	e.s.ForgetSessionCheck(sid)
	e.advance(-61 * time.Second)
	if _, _, ok := e.s.KeptBrowserSession(sid); ok {
		t.Error("a forgotten check was answered from memory")
	}
}

func accountName(t *testing.T, e *tgEnv, id int64) string {
	t.Helper()
	var n string
	if err := e.s.DB().Get(&n, `SELECT name FROM accounts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return n
}
