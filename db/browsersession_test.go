package db_test

import (
	"reflect"
	"testing"
	"time"

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
