package db_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// tgEnv is a fresh database and store with a movable clock, for the teams,
// grants and agents tests (issue 4).
type tgEnv struct {
	t   *testing.T
	s   *db.Store
	ctx context.Context
	mu  sync.Mutex
	now time.Time
}

func newTG(t *testing.T) *tgEnv {
	t.Helper()
	e := &tgEnv{t: t, ctx: context.Background(), now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.s = db.New(dbtest.New(t), db.WithFastPasswordHashing(), db.WithClock(func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	}))
	return e
}

func (e *tgEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// user signs up a verified account and returns it as an actor.
func (e *tgEnv) user(name string) (model.Actor, model.Account) {
	e.t.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"
	acc, err := e.s.Signup(e.ctx, model.Actor{IP: "127.0.0.1"}, db.SignupInput{
		Email: email, Name: name, Password: "correct horse battery", VerifiedEmail: true})
	if err != nil {
		e.t.Fatalf("signup %s: %v", name, err)
	}
	return model.Actor{AccountID: acc.ID, Email: acc.Email, IP: "127.0.0.1"}, acc
}

// org creates a team org owned by owner.
func (e *tgEnv) org(owner model.Actor, name string) int64 {
	e.t.Helper()
	ws, err := e.s.CreateOrg(e.ctx, owner, db.CreateOrgInput{DisplayName: name})
	if err != nil {
		e.t.Fatalf("create org %s: %v", name, err)
	}
	return ws.ID
}

// join adds an account to an org at role directly (invitations are tested
// elsewhere).
func (e *tgEnv) join(orgID int64, who model.Actor, role model.Role) {
	e.t.Helper()
	if _, err := e.s.DB().ExecContext(e.ctx, `INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`,
		orgID, who.AccountID, role); err != nil {
		e.t.Fatalf("join: %v", err)
	}
}

func (e *tgEnv) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.s.DB().ExecContext(e.ctx, q, args...); err != nil {
		e.t.Fatalf("exec %q: %v", q, err)
	}
}

func (e *tgEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.s.DB().GetContext(e.ctx, &n, q, args...); err != nil {
		e.t.Fatalf("count %q: %v", q, err)
	}
	return n
}

// audits counts audit events of action with outcome in org.
func (e *tgEnv) audits(orgID int64, action, outcome string) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2 AND outcome = $3`, orgID, action, outcome)
}

func (e *tgEnv) wantAudit(orgID int64, action, outcome string, n int) {
	e.t.Helper()
	if got := e.audits(orgID, action, outcome); got != n {
		e.t.Errorf("audit %s %s in org %d: %d events, want %d", action, outcome, orgID, got, n)
	}
}

func (e *tgEnv) agent(actor model.Actor, orgID int64, name string) model.Agent {
	e.t.Helper()
	a, err := e.s.CreateAgent(e.ctx, actor, orgID, model.AgentInput{Name: name, Description: "does " + name})
	if err != nil {
		e.t.Fatalf("create agent %s: %v", name, err)
	}
	return a
}

func (e *tgEnv) team(actor model.Actor, orgID int64, name string) model.Team {
	e.t.Helper()
	t, err := e.s.CreateTeam(e.ctx, actor, orgID, model.TeamInput{Name: name})
	if err != nil {
		e.t.Fatalf("create team %s: %v", name, err)
	}
	return t
}

func (e *tgEnv) access(who model.Actor, agentID int64) (model.Permission, model.Source) {
	e.t.Helper()
	p, src, err := e.s.AgentAccess(e.ctx, who.AccountID, agentID)
	if err != nil {
		e.t.Fatalf("access: %v", err)
	}
	return p, src
}

func (e *tgEnv) wantAccess(who model.Actor, agentID int64, want model.Permission, rule string) {
	e.t.Helper()
	p, src := e.access(who, agentID)
	if p != want || src.Rule != rule {
		e.t.Errorf("%s on agent %d: %s (%s), want %s (%s)", who.Email, agentID, p, src.Rule, want, rule)
	}
}

func (e *tgEnv) listed(who model.Actor, orgID int64) map[int64]model.Permission {
	e.t.Helper()
	page, err := e.s.ListAgents(e.ctx, who.AccountID, db.AgentFilter{OrgID: orgID, PerPage: 200})
	if err != nil {
		e.t.Fatalf("list agents: %v", err)
	}
	out := map[int64]model.Permission{}
	for _, a := range page.Agents {
		out[a.ID] = a.Permission
		// The list (scanned by hand) reads every field as the single read.
		one, err := e.s.GetAgent(e.ctx, who.AccountID, a.ID)
		if err != nil || !reflect.DeepEqual(one, a) {
			e.t.Errorf("%s: listed agent %d differs from GetAgent (%v):\n%+v\n%+v", who.Email, a.ID, err, a, one)
		}
	}
	if page.Total != len(page.Agents) {
		e.t.Errorf("list total %d, %d rows", page.Total, len(page.Agents))
	}
	return out
}

func wantCode(t *testing.T, err error, code model.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got nil", code)
	}
	if got := model.CodeOf(err); got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

// TestEffectivePermissionEndToEnd is the main scenario: two teams
// with read and admin grants on one agent; a member in both sees admin, a
// billing member read whatever the grants, a creator admin, a plain member
// nothing (404 and not listed), and the org's base permission lets members
// read.
func TestEffectivePermissionEndToEnd(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Olive Owner")
	admin, _ := e.user("Adam Admin")
	both, _ := e.user("Bea Both")
	plain, _ := e.user("Pat Plain")
	bill, _ := e.user("Bill Billing")
	maker, _ := e.user("Mia Maker")
	outsider, _ := e.user("Otto Outsider")
	org := e.org(owner, "Acme")
	e.join(org, admin, model.RoleAdmin)
	e.join(org, both, model.RoleMember)
	e.join(org, plain, model.RoleMember)
	e.join(org, bill, model.RoleBilling)
	e.join(org, maker, model.RoleMember)

	ag := e.agent(admin, org, "Support bot")
	readers := e.team(admin, org, "Readers")
	admins := e.team(admin, org, "Admins")
	for _, tm := range []model.Team{readers, admins} {
		if _, err := e.s.SetTeamMember(e.ctx, admin, org, tm.ID, both.AccountID, "member"); err != nil {
			t.Fatal(err)
		}
	}
	gRead, err := e.s.SetGrant(e.ctx, admin, org, readers.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: ag.ID, Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if gRead.Permission != model.PermRead || gRead.ResourceName != "Support bot" || gRead.TeamName != "Readers" {
		t.Errorf("grant = %+v", gRead)
	}
	gAdmin, err := e.s.SetGrant(e.ctx, admin, org, admins.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: ag.ID, Permission: "admin"})
	if err != nil {
		t.Fatal(err)
	}

	p, src := e.access(both, ag.ID)
	if p != model.PermAdmin || src.Rule != model.SourceTeamGrant || src.TeamID != admins.ID || src.TeamName != "Admins" {
		t.Errorf("member in both teams: %s %+v, want admin through Admins", p, src)
	}
	e.wantAccess(owner, ag.ID, model.PermAdmin, model.SourceOrgRole)
	e.wantAccess(admin, ag.ID, model.PermAdmin, model.SourceOrgRole)
	e.wantAccess(bill, ag.ID, model.PermRead, model.SourceBillingRole)
	e.wantAccess(plain, ag.ID, model.PermNone, model.SourceNone)
	e.wantAccess(outsider, ag.ID, model.PermNone, model.SourceNoMembership)

	// Billing members cannot join teams; outsiders neither.
	_, err = e.s.SetTeamMember(e.ctx, admin, org, admins.ID, bill.AccountID, "member")
	wantCode(t, err, model.CodeValidation)
	_, err = e.s.SetTeamMember(e.ctx, admin, org, admins.ID, outsider.AccountID, "member")
	wantCode(t, err, model.CodeValidation)
	e.wantAccess(bill, ag.ID, model.PermRead, model.SourceBillingRole)

	// A member who creates an agent keeps admin on it.
	mine := e.agent(maker, org, "Maker's helper")
	e.wantAccess(maker, mine.ID, model.PermAdmin, model.SourceCreator)
	if mine.Permission != model.PermAdmin {
		t.Errorf("created agent permission %s", mine.Permission)
	}

	// A plain member without grants: not found, not listed.
	_, err = e.s.GetAgent(e.ctx, plain.AccountID, ag.ID)
	wantCode(t, err, model.CodeNotFound)
	if got := e.listed(plain, org); len(got) != 0 {
		t.Errorf("plain member lists %v", got)
	}
	_, err = e.s.UpdateAgent(e.ctx, plain, ag.ID, db.UpdateAgentInput{Name: ptr("hijacked")})
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.GetAgent(e.ctx, outsider.AccountID, ag.ID)
	wantCode(t, err, model.CodeNotFound)

	// Lists show levels.
	if got := e.listed(both, org); len(got) != 1 || got[ag.ID] != model.PermAdmin {
		t.Errorf("member in both lists %v", got)
	}
	if got := e.listed(bill, org); len(got) != 2 || got[ag.ID] != model.PermRead || got[mine.ID] != model.PermRead {
		t.Errorf("billing lists %v", got)
	}
	if got := e.listed(maker, org); len(got) != 1 || got[mine.ID] != model.PermAdmin {
		t.Errorf("maker lists %v", got)
	}
	if got := e.listed(owner, 0); got[ag.ID] != model.PermAdmin || got[mine.ID] != model.PermAdmin {
		t.Errorf("owner lists %v", got)
	}

	// Re-granting keeps the grant's id and changes its level.
	again, err := e.s.SetGrant(e.ctx, admin, org, admins.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "write"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != gAdmin.ID || again.Permission != model.PermWrite {
		t.Errorf("re-grant = %+v, want id %d at write", again, gAdmin.ID)
	}
	e.wantAccess(both, ag.ID, model.PermWrite, model.SourceTeamGrant)
	// Default level is write.
	if err := e.s.RemoveGrant(e.ctx, admin, org, readers.ID, gRead.ID); err != nil {
		t.Fatal(err)
	}
	def, err := e.s.SetGrant(e.ctx, admin, org, readers.ID, db.SetGrantInput{ResourceID: ag.ID})
	if err != nil || def.Permission != model.PermWrite {
		t.Fatalf("default grant = %+v, %v", def, err)
	}
	_, err = e.s.SetGrant(e.ctx, admin, org, readers.ID, db.SetGrantInput{ResourceID: ag.ID, Permission: "owner"})
	wantCode(t, err, model.CodeValidation)
	_, err = e.s.SetGrant(e.ctx, admin, org, readers.ID, db.SetGrantInput{ResourceKind: "skill", ResourceID: ag.ID})
	wantCode(t, err, model.CodeValidation)

	// Base permission read lets every member read; write lets them write.
	base := "read"
	if _, err := e.s.UpdateOrg(e.ctx, owner, org, db.UpdateOrgInput{MemberBasePermission: &base}); err != nil {
		t.Fatal(err)
	}
	e.wantAccess(plain, ag.ID, model.PermRead, model.SourceBasePermission)
	if got := e.listed(plain, org); len(got) != 2 || got[ag.ID] != model.PermRead {
		t.Errorf("plain member with base read lists %v", got)
	}
	if _, err := e.s.GetAgent(e.ctx, plain.AccountID, ag.ID); err != nil {
		t.Errorf("plain member with base read: %v", err)
	}
	_, err = e.s.UpdateAgent(e.ctx, plain, ag.ID, db.UpdateAgentInput{Name: ptr("hijacked")})
	wantCode(t, err, model.CodeForbidden)
	e.wantAudit(org, "agent.updated", model.OutcomeDenied, 1)

	// The explainer.
	x, err := e.s.Explain(e.ctx, admin, ag.ID, both.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if x.Permission != model.PermWrite || x.Source.TeamName == "" || !strings.Contains(x.Reason, "through team") {
		t.Errorf("explain = %+v", x)
	}
	x, err = e.s.Explain(e.ctx, admin, ag.ID, bill.AccountID)
	if err != nil || x.Permission != model.PermRead || x.Reason != "Billing members can only read" {
		t.Errorf("explain billing = %+v, %v", x, err)
	}
	_, err = e.s.Explain(e.ctx, admin, ag.ID, outsider.AccountID)
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.Explain(e.ctx, outsider, ag.ID, both.AccountID)
	wantCode(t, err, model.CodeNotFound)

	e.wantAudit(org, "team.created", model.OutcomeSuccess, 2)
	e.wantAudit(org, "team.member_added", model.OutcomeSuccess, 2)
	e.wantAudit(org, "grant.set", model.OutcomeSuccess, 4)
	e.wantAudit(org, "grant.removed", model.OutcomeSuccess, 1)
	e.wantAudit(org, "agent.created", model.OutcomeSuccess, 2)
}

func ptr[T any](v T) *T { return &v }

// TestGrantOnlyOwnResources: another org's agent cannot be granted, and a
// team of another org is not found.
func TestGrantOnlyOwnResources(t *testing.T) {
	e := newTG(t)
	alice, _ := e.user("Alice")
	bob, _ := e.user("Bob")
	a := e.org(alice, "Alpha")
	b := e.org(bob, "Beta")
	theirs := e.agent(bob, b, "Beta bot")
	personal := e.agent(alice, 0, "Alice's own")
	tm := e.team(alice, a, "Core")

	_, err := e.s.SetGrant(e.ctx, alice, a, tm.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: theirs.ID, Permission: "read"})
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.SetGrant(e.ctx, alice, a, tm.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: personal.ID, Permission: "read"})
	wantCode(t, err, model.CodeNotFound)
	e.wantAudit(a, "grant.set", model.OutcomeDenied, 2)
	if n := e.count(`SELECT count(*) FROM grants`); n != 0 {
		t.Errorf("%d grants written", n)
	}
	// Bob cannot reach Alpha's team through his own org id or Alpha's.
	_, err = e.s.SetGrant(e.ctx, bob, b, tm.ID, db.SetGrantInput{ResourceID: theirs.ID})
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.SetGrant(e.ctx, bob, a, tm.ID, db.SetGrantInput{ResourceID: theirs.ID})
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.Team(e.ctx, bob.AccountID, a, tm.ID)
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.Team(e.ctx, bob.AccountID, b, tm.ID)
	wantCode(t, err, model.CodeNotFound)
	_, err = e.s.Resources(e.ctx, bob, a, "agent")
	wantCode(t, err, model.CodeNotFound)
	rs, err := e.s.Resources(e.ctx, bob, b, "agent")
	if err != nil || len(rs) != 1 || rs[0].ID != theirs.ID {
		t.Errorf("resources = %+v, %v", rs, err)
	}
	// Personal workspaces have no teams.
	var alicePersonal int64
	if err := e.s.DB().Get(&alicePersonal, `SELECT personal_org_id FROM accounts WHERE id = $1`, alice.AccountID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.CreateTeam(e.ctx, alice, alicePersonal, model.TeamInput{Name: "Solo"})
	wantCode(t, err, model.CodeForbidden)
}

// TestAgentListPagination checks the list's paging and total.
func TestAgentListPagination(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	member, _ := e.user("Member")
	org := e.org(owner, "Paged")
	e.join(org, member, model.RoleMember)
	e.exec(`UPDATE orgs SET limit_agents = 100 WHERE id = $1`, org)
	tm := e.team(owner, org, "Some")
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, member.AccountID, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		a := e.agent(owner, org, "agent "+string(rune('a'+i)))
		if i%2 == 0 {
			if _, err := e.s.SetGrant(e.ctx, owner, org, tm.ID, db.SetGrantInput{ResourceID: a.ID, Permission: "read"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	p1, err := e.s.ListAgents(e.ctx, member.AccountID, db.AgentFilter{OrgID: org, Page: 1, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.s.ListAgents(e.ctx, member.AccountID, db.AgentFilter{OrgID: org, Page: 2, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Total != 13 || len(p1.Agents) != 10 || len(p2.Agents) != 3 || p1.TotalPages() != 2 {
		t.Errorf("pages: total %d, %d + %d rows, %d pages", p1.Total, len(p1.Agents), len(p2.Agents), p1.TotalPages())
	}
	if p1.Agents[0].Name != "agent a" || p1.Agents[0].Permission != model.PermRead {
		t.Errorf("first = %+v", p1.Agents[0])
	}
	all, err := e.s.ListAgents(e.ctx, owner.AccountID, db.AgentFilter{OrgID: org})
	if err != nil || all.Total != 25 {
		t.Errorf("owner total %d, %v", all.Total, err)
	}
	if _, err := e.s.ListAgents(e.ctx, member.AccountID, db.AgentFilter{OrgID: 999999}); err != nil {
		t.Error(err)
	}
}
