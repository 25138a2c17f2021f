package db_test

import (
	"reflect"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// TestBrowserSessionMatchesItsParts: the one statement a page starts from
// answers what the session and workspace queries answer apart: the account,
// its facts, every workspace with every org field in switcher order, and
// the SSO gate (an org enforcing SSO at the account's domain is blocked for
// a password session; an owner's break-glass is not).
func TestBrowserSessionMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	member, macc := e.user("Zed Member")
	zulu := e.org(owner, "Zulu Works")
	alpha := e.org(owner, "alpha labs")
	mid := e.org(member, "Mid Org") // the member owns this one
	for _, org := range []int64{zulu, alpha} {
		if _, err := e.s.DB().Exec(`INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, 'member', now())`, org, macc.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Zulu enforces SSO at example.com, the member's domain; Mid does too,
	// but the member owns it (break-glass).
	for _, org := range []int64{zulu, mid} {
		if _, err := e.s.DB().Exec(`INSERT INTO sso_connections (org_id, protocol, config_hash, tested_config_hash, enabled, enforced)
			VALUES ($1, 'oidc', 'h', 'h', true, true)`, org); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.DB().Exec(`INSERT INTO sso_domains (org_id, domain, txt_token, verified_at) VALUES ($1, 'example.com', 't1', now())`, zulu); err != nil {
		t.Fatal(err)
	}
	sid, err := e.s.CreateSession(e.ctx, macc.ID, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Minute) // the session is touched (marked seen) once
	got, err := e.s.BrowserSession(e.ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	acc, facts, err := e.s.Session(e.ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	ws, blocked, err := e.s.SessionWorkspaces(e.ctx, acc, facts)
	if err != nil {
		t.Fatal(err)
	}
	got.Account.LastActiveAt = acc.LastActiveAt // the first call marked it active
	if !reflect.DeepEqual(got.Account, acc) || !reflect.DeepEqual(got.Facts, facts) {
		t.Errorf("account/facts differ:\n%+v %+v\n%+v %+v", got.Account, got.Facts, acc, facts)
	}
	if !reflect.DeepEqual(got.Workspaces, ws) || !reflect.DeepEqual(got.Blocked, blocked) {
		t.Errorf("workspaces differ:\n%+v %v\n%+v %v", got.Workspaces, got.Blocked, ws, blocked)
	}
	var names []string
	for _, w := range got.Workspaces {
		names = append(names, w.DisplayName)
		if w.ID == 0 || w.Slug == "" || w.Plan == "" || w.CreatedAt.IsZero() || w.LimitAgents == 0 || w.Role == "" {
			t.Errorf("workspace %q not fully read: %+v", w.DisplayName, w)
		}
	}
	if want := []string{"Personal", "alpha labs", "Mid Org", "Zulu Works"}; len(names) != 4 || names[1] != want[1] || names[2] != want[2] || names[3] != want[3] {
		t.Errorf("switcher order %v, want personal first then by name: %v", names, want)
	}
	if !got.Blocked[zulu] || got.Blocked[mid] || len(got.Blocked) != 1 {
		t.Errorf("blocked %v: want only Zulu (enforced at the domain; the owner of Mid has break-glass)", got.Blocked)
	}
	var seen time.Time
	if err := e.s.DB().Get(&seen, `SELECT last_active_at FROM accounts WHERE id = $1`, macc.ID); err != nil || !seen.Equal(e.s.Now()) {
		t.Errorf("account last active %v (%v), want %v", seen, err, e.s.Now())
	}

	for _, bad := range []string{"", "no-such-session"} {
		if _, err := e.s.BrowserSession(e.ctx, bad); model.CodeOf(err) != model.CodeUnauthorized {
			t.Errorf("session %q: %v, want unauthorized", bad, err)
		}
	}
}

// TestBrowserSessionKeptCopyFollowsEveryChange: a server keeps a session's
// account, flags and workspaces while the versions of migration 00016 hold.
// Each change below is made by "another server" (plain SQL on the shared
// database, so only the triggers can tell the keeping store); the next page
// on the keeping store must answer what a store with nothing kept answers,
// and a page with nothing changed in between must be served from the copy.
func TestBrowserSessionKeptCopyFollowsEveryChange(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	_, macc := e.user("Mia Member")
	org := e.org(owner, "Beta Org")
	other := e.org(owner, "Gamma Org")
	var agent int64
	if err := e.s.DB().Get(&agent, `INSERT INTO agents (org_id, name) VALUES ($1, 'a1') RETURNING id`, other); err != nil {
		t.Fatal(err)
	}
	sql := func(q string, args ...any) {
		t.Helper()
		if _, err := e.s.DB().Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sql(`INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, 'member', now())`, org, macc.ID)
	sid, err := e.s.CreateSession(e.ctx, macc.ID, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	// page loads the session on the keeping store twice, the second time
	// with nothing changed: it must come from the copy and match.
	page := func(name string) db.BrowserSession {
		t.Helper()
		got, err := e.s.BrowserSession(e.ctx, sid)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := db.New(e.s.DB(), db.WithClock(e.s.Now)).BrowserSession(e.ctx, sid)
		if err != nil {
			t.Fatalf("%s: fresh store: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: kept copy served a stale session:\n got %+v\nwant %+v", name, got, want)
		}
		h0, _ := e.s.SessionKeepStats()
		again, err := e.s.BrowserSession(e.ctx, sid)
		if h1, _ := e.s.SessionKeepStats(); err != nil || h1 != h0+1 || !reflect.DeepEqual(again, got) {
			t.Errorf("%s: unchanged session not served from the copy (hits %d→%d, err %v)", name, h0, h1, err)
		}
		return got
	}
	role := func(b db.BrowserSession, id int64) string {
		for _, w := range b.Workspaces {
			if w.ID == id {
				return string(w.Role)
			}
		}
		return ""
	}
	if b := page("start"); role(b, org) != "member" || role(b, other) != "" {
		t.Fatalf("start: roles %q %q", role(b, org), role(b, other))
	}
	for _, c := range []struct {
		name   string
		change func()
		check  func(b db.BrowserSession) bool
	}{
		{"role changed", func() {
			sql(`UPDATE memberships SET role = 'admin' WHERE org_id = $1 AND account_id = $2`, org, macc.ID)
		},
			func(b db.BrowserSession) bool { return role(b, org) == "admin" }},
		{"joined an org", func() {
			sql(`INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, 'billing', now())`, other, macc.ID)
		}, func(b db.BrowserSession) bool { return role(b, other) == "billing" }},
		{"org renamed", func() { sql(`UPDATE orgs SET display_name = 'Beta Renamed' WHERE id = $1`, org) },
			func(b db.BrowserSession) bool {
				return len(b.Workspaces) == 3 && b.Workspaces[1].DisplayName == "Beta Renamed"
			}},
		{"plan changed", func() { sql(`UPDATE orgs SET plan = 'team', limit_agents = 77 WHERE id = $1`, org) },
			func(b db.BrowserSession) bool {
				return b.Workspaces[1].Plan == "team" && b.Workspaces[1].LimitAgents == 77
			}},
		{"two-factor required", func() { sql(`UPDATE orgs SET require_two_factor = true WHERE id = $1`, org) },
			func(b db.BrowserSession) bool { return b.Workspaces[1].RequireTwoFactor }},
		{"SSO enforced at her domain", func() {
			sql(`INSERT INTO sso_connections (org_id, protocol, config_hash, tested_config_hash, enabled, enforced) VALUES ($1, 'oidc', 'h', 'h', true, true)`, other)
			sql(`INSERT INTO sso_domains (org_id, domain, txt_token, verified_at) VALUES ($1, 'example.com', 't', now())`, other)
		}, func(b db.BrowserSession) bool { return b.Blocked[other] }},
		{"SSO no longer enforced", func() { sql(`UPDATE sso_connections SET enforced = false WHERE org_id = $1`, other) },
			func(b db.BrowserSession) bool { return !b.Blocked[other] }},
		{"invited", func() {
			sql(`INSERT INTO invitations (org_id, email, role, token_hash, expires_at) VALUES ($1, $2, 'member', 'x1', $3)`,
				e.org(owner, "Epsilon Org"), macc.Email, e.s.Now().Add(30*time.Second))
		}, func(b db.BrowserSession) bool { return b.Facts.Invitations }},
		// 31 s: under the minute after which a page marks the session seen
		// (which would move the account's version), so only the copy's time
		// bound can tell.
		{"invitation expired (time alone)", func() { e.advance(31 * time.Second) },
			func(b db.BrowserSession) bool { return !b.Facts.Invitations }},
		{"agent offered", func() {
			sql(`INSERT INTO agent_transfers (agent_id, from_org_id, to_email, token_hash, expires_at) VALUES ($1, $2, $3, 't', $4)`,
				agent, other, macc.Email, e.s.Now().Add(time.Hour))
		}, func(b db.BrowserSession) bool { return b.Facts.Transfers }},
		{"agent offer cancelled", func() { sql(`UPDATE agent_transfers SET status = 'cancelled' WHERE agent_id = $1`, agent) },
			func(b db.BrowserSession) bool { return !b.Facts.Transfers }},
		{"two-factor set up", func() {
			sql(`INSERT INTO two_factor_totp (account_id, secret_enc, confirmed_at) VALUES ($1, '\x00', now())`, macc.ID)
		}, func(b db.BrowserSession) bool { return b.Account.TwoFactor }},
		{"renamed herself", func() { sql(`UPDATE accounts SET name = 'Mia Renamed' WHERE id = $1`, macc.ID) },
			func(b db.BrowserSession) bool { return b.Account.Name == "Mia Renamed" }},
		{"password changed", func() { sql(`UPDATE accounts SET password_hash = 'new' WHERE id = $1`, macc.ID) },
			func(b db.BrowserSession) bool { return b.Account.PasswordHash == "new" }},
		{"left an org", func() { sql(`DELETE FROM memberships WHERE org_id = $1 AND account_id = $2`, other, macc.ID) },
			func(b db.BrowserSession) bool { return role(b, other) == "" && len(b.Workspaces) == 2 }},
		{"auto-join offered", func() { sql(`UPDATE sso_domains SET auto_join = true WHERE org_id = $1`, other) },
			func(b db.BrowserSession) bool { return b.Facts.AutoJoin }},
		{"org deleted", func() { sql(`DELETE FROM orgs WHERE id = $1`, org) }, func(b db.BrowserSession) bool { return len(b.Workspaces) == 1 }},
	} {
		c.change()
		if b := page(c.name); !c.check(b) {
			t.Errorf("%s: not seen: %+v %+v", c.name, b.Facts, b.Workspaces)
		}
	}
	// Signed out on another server: the session row is gone, whatever is kept.
	sql(`DELETE FROM sessions WHERE account_id = $1`, macc.ID)
	if _, err := e.s.BrowserSession(e.ctx, sid); model.CodeOf(err) != model.CodeUnauthorized {
		t.Errorf("after sign-out elsewhere: %v, want unauthorized", err)
	}
}
