package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// memFix is the fixture of the members and invitations tests: a store on a
// fresh database with a clock the test moves.
type memFix struct {
	t   *testing.T
	ctx context.Context
	s   *Store

	mu  sync.Mutex
	now time.Time
}

func newMemFix(t *testing.T) *memFix {
	t.Helper()
	f := &memFix{t: t, ctx: context.Background(), now: time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)}
	f.s = New(dbtest.New(t), WithClock(f.clock), WithFastPasswordHashing())
	return f
}

func (f *memFix) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *memFix) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// account signs up a person (verified unless the email starts with
// "unverified") and returns them as an actor.
func (f *memFix) account(email string) model.Actor {
	f.t.Helper()
	name := strings.SplitN(email, "@", 2)[0]
	acc, err := f.s.Signup(f.ctx, model.Actor{IP: "127.0.0.1"}, SignupInput{
		Email: email, Name: strings.ToUpper(name[:1]) + name[1:], Password: "correct horse battery",
		VerifiedEmail: !strings.HasPrefix(email, "unverified"),
	})
	if err != nil {
		f.t.Fatalf("signup %s: %v", email, err)
	}
	return model.Actor{AccountID: acc.ID, Email: acc.Email, IP: "127.0.0.1"}
}

// org creates a team org owned by owner.
func (f *memFix) org(owner model.Actor, name string) int64 {
	f.t.Helper()
	ws, err := f.s.CreateOrg(f.ctx, owner, CreateOrgInput{DisplayName: name})
	if err != nil {
		f.t.Fatalf("create org %s: %v", name, err)
	}
	return ws.ID
}

// join adds a membership directly (the invitation path is tested on its own).
func (f *memFix) join(orgID int64, a model.Actor, role model.Role) {
	f.t.Helper()
	if _, err := f.s.DB().ExecContext(f.ctx, `INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, orgID, a.AccountID, role); err != nil {
		f.t.Fatalf("join: %v", err)
	}
}

func (f *memFix) role(orgID int64, a model.Actor) model.Role {
	f.t.Helper()
	var r model.Role
	err := f.s.DB().GetContext(f.ctx, &r, `SELECT COALESCE((SELECT role FROM memberships WHERE org_id = $1 AND account_id = $2), '')`, orgID, a.AccountID)
	if err != nil {
		f.t.Fatalf("role: %v", err)
	}
	return r
}

func (f *memFix) owners(orgID int64) int {
	f.t.Helper()
	n, err := f.s.OwnerCount(f.ctx, orgID)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// events returns org's audit events with action, oldest first.
func (f *memFix) events(orgID int64, action string) []model.AuditEvent {
	f.t.Helper()
	var evs []model.AuditEvent
	err := f.s.DB().SelectContext(f.ctx, &evs, `SELECT `+auditCols+` FROM audit_events WHERE org_id = $1 AND action = $2 ORDER BY id`, orgID, action)
	if err != nil {
		f.t.Fatalf("events: %v", err)
	}
	return evs
}

// wantEvent checks that the last event of action in org has outcome and was
// done by actor.
func (f *memFix) wantEvent(orgID int64, action, outcome string, actor model.Actor) model.AuditEvent {
	f.t.Helper()
	evs := f.events(orgID, action)
	if len(evs) == 0 {
		f.t.Fatalf("no %s event in org %d", action, orgID)
	}
	ev := evs[len(evs)-1]
	if ev.Outcome != outcome {
		f.t.Fatalf("%s event outcome %q, want %q", action, ev.Outcome, outcome)
	}
	if ev.ActorID == nil || *ev.ActorID != actor.AccountID || ev.ActorEmail != actor.Email {
		f.t.Fatalf("%s event actor %v %q, want %d %q", action, ev.ActorID, ev.ActorEmail, actor.AccountID, actor.Email)
	}
	return ev
}

func wantErrCode(t *testing.T, err error, code model.Code) *model.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got nil", code)
	}
	e, ok := model.AsError(err)
	if !ok || e.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	return e
}

func TestMembersListPagingAndFilter(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	org := f.org(owner, "Acme")
	var admins int
	for i := 0; i < 24; i++ {
		a := f.account(fmt.Sprintf("m%02d@example.com", i))
		r := model.RoleMember
		if i%6 == 0 {
			r = model.RoleAdmin
			admins++
		}
		f.join(org, a, r)
	}
	stranger := f.account("stranger@example.com")

	rows, total, err := f.s.Members(f.ctx, owner, org, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != 25 || len(rows) != 20 {
		t.Fatalf("page 1: %d rows of %d, want 20 of 25", len(rows), total)
	}
	if rows[0].Role != model.RoleOwner || rows[0].Email != "olive@example.com" || rows[0].Name != "Olive" {
		t.Errorf("owner should come first: %+v", rows[0])
	}
	if rows[0].JoinedAt.IsZero() {
		t.Error("joined time missing")
	}
	rows2, _, err := f.s.Members(f.ctx, owner, org, "", 2, 20)
	if err != nil || len(rows2) != 5 {
		t.Fatalf("page 2: %d rows, %v; want 5", len(rows2), err)
	}
	seen := map[int64]bool{}
	for _, r := range append(rows, rows2...) {
		if seen[r.AccountID] {
			t.Errorf("member %d on two pages", r.AccountID)
		}
		seen[r.AccountID] = true
	}
	all, _, err := f.s.Members(f.ctx, owner, org, "", 1, 1000)
	if err != nil || len(all) != 25 {
		t.Fatalf("per_page capped at 100 should list all 25: %d, %v", len(all), err)
	}
	adm, total, err := f.s.Members(f.ctx, owner, org, "Admin", 1, 20)
	if err != nil || total != admins || len(adm) != admins {
		t.Fatalf("role filter: %d rows of %d, %v; want %d", len(adm), total, err, admins)
	}
	for _, r := range adm {
		if r.Role != model.RoleAdmin {
			t.Errorf("filter admin returned %s", r.Role)
		}
	}
	// Any member may list; a member sees the same list.
	member := model.Actor{AccountID: rows[len(rows)-1].AccountID, Email: rows[len(rows)-1].Email}
	if _, total, err := f.s.Members(f.ctx, member, org, "", 1, 20); err != nil || total != 25 {
		t.Fatalf("member listing: %d, %v", total, err)
	}
	_, _, err = f.s.Members(f.ctx, owner, org, "wizard", 1, 20)
	if e := wantErrCode(t, err, model.CodeValidation); e.Fields["role"] == "" {
		t.Errorf("unknown role filter should be a field error: %v", e)
	}
	_, _, err = f.s.Members(f.ctx, stranger, org, "", 1, 20)
	wantErrCode(t, err, model.CodeNotFound)
}

func TestChangeRole(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	admin := f.account("adam@example.com")
	member := f.account("mia@example.com")
	billing := f.account("bill@example.com")
	stranger := f.account("stranger@example.com")
	org := f.org(owner, "Acme")
	f.join(org, admin, model.RoleAdmin)
	f.join(org, member, model.RoleMember)
	f.join(org, billing, model.RoleBilling)
	other := f.org(stranger, "Other")

	// Owner promotes a member to admin: row returned, stored, audited.
	row, err := f.s.ChangeRole(f.ctx, owner, org, member.AccountID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if row.Role != model.RoleAdmin || row.Email != member.Email || f.role(org, member) != model.RoleAdmin {
		t.Fatalf("promote: %+v, stored %s", row, f.role(org, member))
	}
	ev := f.wantEvent(org, "member.role_changed", model.OutcomeSuccess, owner)
	if ev.TargetKind != "member" || ev.TargetID != strconv.FormatInt(member.AccountID, 10) || !strings.Contains(ev.TargetLabel, "admin") {
		t.Errorf("event target %+v", ev)
	}
	// Admin demotes that admin to billing and back to member: allowed.
	if _, err := f.s.ChangeRole(f.ctx, admin, org, member.AccountID, "billing"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ChangeRole(f.ctx, admin, org, member.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	// Admin grants owner: forbidden, audited as denied, nothing changed.
	_, err = f.s.ChangeRole(f.ctx, admin, org, member.AccountID, "owner")
	wantErrCode(t, err, model.CodeForbidden)
	f.wantEvent(org, "member.role_changed", model.OutcomeDenied, admin)
	if f.role(org, member) != model.RoleMember {
		t.Fatal("role changed despite refusal")
	}
	// Admin demotes the owner: forbidden.
	_, err = f.s.ChangeRole(f.ctx, admin, org, owner.AccountID, "admin")
	wantErrCode(t, err, model.CodeForbidden)
	// Member and billing change nothing.
	_, err = f.s.ChangeRole(f.ctx, member, org, billing.AccountID, "member")
	wantErrCode(t, err, model.CodeForbidden)
	_, err = f.s.ChangeRole(f.ctx, billing, org, member.AccountID, "billing")
	wantErrCode(t, err, model.CodeForbidden)
	// The last owner cannot demote themself: conflict that says to promote first.
	_, err = f.s.ChangeRole(f.ctx, owner, org, owner.AccountID, "admin")
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Message, "promote") {
		t.Errorf("last-owner message: %q", e.Message)
	}
	f.wantEvent(org, "member.role_changed", model.OutcomeDenied, owner)
	if f.owners(org) != 1 {
		t.Fatal("owner lost")
	}
	// Bad input and other orgs' ids.
	_, err = f.s.ChangeRole(f.ctx, owner, org, member.AccountID, "superuser")
	if e := wantErrCode(t, err, model.CodeValidation); e.Fields["role"] == "" {
		t.Errorf("want field error on role: %v", e)
	}
	_, err = f.s.ChangeRole(f.ctx, owner, org, stranger.AccountID, "admin")
	wantErrCode(t, err, model.CodeNotFound)
	_, err = f.s.ChangeRole(f.ctx, owner, other, stranger.AccountID, "admin")
	wantErrCode(t, err, model.CodeNotFound)
	_, err = f.s.ChangeRole(f.ctx, owner, 999999, stranger.AccountID, "admin")
	wantErrCode(t, err, model.CodeNotFound)
	// Owner promotes a second owner, then may step down.
	if _, err := f.s.ChangeRole(f.ctx, owner, org, admin.AccountID, "owner"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ChangeRole(f.ctx, owner, org, owner.AccountID, "admin"); err != nil {
		t.Fatal(err)
	}
	if f.role(org, owner) != model.RoleAdmin || f.owners(org) != 1 {
		t.Fatalf("step down: %s, owners %d", f.role(org, owner), f.owners(org))
	}
	// Unchanged role: no-op, no event.
	before := len(f.events(org, "member.role_changed"))
	if _, err := f.s.ChangeRole(f.ctx, admin, org, member.AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	if after := len(f.events(org, "member.role_changed")); after != before {
		t.Errorf("no-op change wrote an event")
	}
	// A personal workspace has nobody else to manage.
	acc, _ := f.s.AccountByID(f.ctx, owner.AccountID)
	_, err = f.s.ChangeRole(f.ctx, owner, acc.PersonalOrgID, owner.AccountID, "admin")
	wantErrCode(t, err, model.CodeForbidden)
}

func TestRemoveMember(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	admin := f.account("adam@example.com")
	member := f.account("mia@example.com")
	billing := f.account("bill@example.com")
	org := f.org(owner, "Acme")
	f.join(org, admin, model.RoleAdmin)
	f.join(org, member, model.RoleMember)
	f.join(org, billing, model.RoleBilling)

	// The member is in a team, has tokens (one bound to the org, one not) and
	// created an agent.
	db := f.s.DB()
	var teamID, agentID int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.GetContext(f.ctx, &teamID, `INSERT INTO teams (org_id, name) VALUES ($1, 'Core') RETURNING id`, org))
	_, err := db.ExecContext(f.ctx, `INSERT INTO team_members (team_id, org_id, account_id, role) VALUES ($1, $2, $3, 'member')`, teamID, org, member.AccountID)
	must(err)
	must(db.GetContext(f.ctx, &agentID, `INSERT INTO agents (org_id, created_by, name) VALUES ($1, $2, 'Scout') RETURNING id`, org, member.AccountID))
	_, boundTok, err := f.s.CreateToken(f.ctx, member, CreateTokenInput{Name: "ci", OrgID: &org})
	must(err)
	_, freeTok, err := f.s.CreateToken(f.ctx, member, CreateTokenInput{Name: "laptop"})
	must(err)

	// Member and billing cannot remove anyone; admin cannot remove the owner.
	wantErrCode(t, f.s.RemoveMember(f.ctx, member, org, billing.AccountID), model.CodeForbidden)
	f.wantEvent(org, "member.removed", model.OutcomeDenied, member)
	wantErrCode(t, f.s.RemoveMember(f.ctx, billing, org, member.AccountID), model.CodeForbidden)
	wantErrCode(t, f.s.RemoveMember(f.ctx, admin, org, owner.AccountID), model.CodeForbidden)
	// Not a member: not found.
	wantErrCode(t, f.s.RemoveMember(f.ctx, owner, org, 424242), model.CodeNotFound)

	// Admin removes the member.
	must(f.s.RemoveMember(f.ctx, admin, org, member.AccountID))
	if f.role(org, member) != "" {
		t.Fatal("still a member")
	}
	ev := f.wantEvent(org, "member.removed", model.OutcomeSuccess, admin)
	if ev.TargetLabel != member.Email {
		t.Errorf("event label %q", ev.TargetLabel)
	}
	var inTeam int
	must(db.GetContext(f.ctx, &inTeam, `SELECT count(*) FROM team_members WHERE account_id = $1`, member.AccountID))
	if inTeam != 0 {
		t.Error("team membership kept")
	}
	var revoked, agentOrg int64
	var creator *int64
	must(db.GetContext(f.ctx, &revoked, `SELECT count(*) FROM api_tokens WHERE id = $1 AND revoked_at IS NOT NULL`, boundTok.ID))
	if revoked != 1 {
		t.Error("org-bound token not revoked")
	}
	must(db.GetContext(f.ctx, &revoked, `SELECT count(*) FROM api_tokens WHERE id = $1 AND revoked_at IS NOT NULL`, freeTok.ID))
	if revoked != 0 {
		t.Error("token not bound to the org was revoked")
	}
	must(db.QueryRowContext(f.ctx, `SELECT org_id, created_by FROM agents WHERE id = $1`, agentID).Scan(&agentOrg, &creator))
	if agentOrg != org || creator == nil || *creator != member.AccountID {
		t.Errorf("agent should stay with the org and keep its creator: org %d creator %v", agentOrg, creator)
	}
	// Removing them again: not found.
	wantErrCode(t, f.s.RemoveMember(f.ctx, admin, org, member.AccountID), model.CodeNotFound)

	// Billing leaves: member.left.
	must(f.s.RemoveMember(f.ctx, billing, org, billing.AccountID))
	f.wantEvent(org, "member.left", model.OutcomeSuccess, billing)

	// The last owner cannot leave, nor be removed by an admin.
	err = f.s.RemoveMember(f.ctx, owner, org, owner.AccountID)
	if e := wantErrCode(t, err, model.CodeConflict); !strings.Contains(e.Message, "promote") {
		t.Errorf("last owner message %q", e.Message)
	}
	f.wantEvent(org, "member.left", model.OutcomeDenied, owner)
	// With a second owner, an owner may remove the other owner, or leave.
	second := f.account("sam@example.com")
	f.join(org, second, model.RoleOwner)
	wantErrCode(t, f.s.RemoveMember(f.ctx, admin, org, second.AccountID), model.CodeForbidden)
	must(f.s.RemoveMember(f.ctx, owner, org, owner.AccountID))
	if f.owners(org) != 1 || f.role(org, second) != model.RoleOwner {
		t.Fatal("owners after leave")
	}
	wantErrCode(t, f.s.RemoveMember(f.ctx, second, org, second.AccountID), model.CodeConflict)

	// Nobody leaves their personal workspace.
	acc, _ := f.s.AccountByID(f.ctx, admin.AccountID)
	wantErrCode(t, f.s.RemoveMember(f.ctx, admin, acc.PersonalOrgID, admin.AccountID), model.CodeForbidden)
}

func TestTransferOwnership(t *testing.T) {
	f := newMemFix(t)
	owner := f.account("olive@example.com")
	admin := f.account("adam@example.com")
	member := f.account("mia@example.com")
	stranger := f.account("stranger@example.com")
	org := f.org(owner, "Acme")
	f.join(org, admin, model.RoleAdmin)
	f.join(org, member, model.RoleMember)

	// Only an owner.
	_, _, err := f.s.TransferOwnership(f.ctx, admin, org, member.AccountID)
	wantErrCode(t, err, model.CodeForbidden)
	f.wantEvent(org, "org.ownership_transferred", model.OutcomeDenied, admin)
	_, _, err = f.s.TransferOwnership(f.ctx, member, org, admin.AccountID)
	wantErrCode(t, err, model.CodeForbidden)
	// To a non-member or to yourself: validation; stranger's view: not found.
	_, _, err = f.s.TransferOwnership(f.ctx, owner, org, stranger.AccountID)
	if e := wantErrCode(t, err, model.CodeValidation); e.Fields["user_id"] == "" {
		t.Errorf("want user_id field error: %v", e)
	}
	_, _, err = f.s.TransferOwnership(f.ctx, owner, org, owner.AccountID)
	wantErrCode(t, err, model.CodeValidation)
	_, _, err = f.s.TransferOwnership(f.ctx, stranger, org, stranger.AccountID)
	wantErrCode(t, err, model.CodeNotFound)

	newOwner, former, err := f.s.TransferOwnership(f.ctx, owner, org, member.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if newOwner.AccountID != member.AccountID || newOwner.Role != model.RoleOwner ||
		former.AccountID != owner.AccountID || former.Role != model.RoleAdmin {
		t.Fatalf("returned %+v %+v", newOwner, former)
	}
	if f.role(org, member) != model.RoleOwner || f.role(org, owner) != model.RoleAdmin || f.owners(org) != 1 {
		t.Fatalf("stored roles: member %s, former owner %s", f.role(org, member), f.role(org, owner))
	}
	f.wantEvent(org, "org.ownership_transferred", model.OutcomeSuccess, owner)
	// The former owner is now an admin and cannot transfer again.
	_, _, err = f.s.TransferOwnership(f.ctx, owner, org, admin.AccountID)
	wantErrCode(t, err, model.CodeForbidden)
	// Transferring to someone already owner: conflict.
	f.join(org, stranger, model.RoleOwner)
	_, _, err = f.s.TransferOwnership(f.ctx, member, org, stranger.AccountID)
	wantErrCode(t, err, model.CodeConflict)
}

// TestLastOwnerUnderConcurrency races owners demoting each other and leaving:
// whatever interleaving the database picks, the org keeps an owner.
func TestLastOwnerUnderConcurrency(t *testing.T) {
	f := newMemFix(t)
	a := f.account("ann@example.com")
	b := f.account("ben@example.com")
	c := f.account("cat@example.com")
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		org := f.org(a, fmt.Sprintf("Race %d", round))
		f.join(org, b, model.RoleOwner)
		owners := []model.Actor{a, b}
		if round%4 == 3 { // some rounds with three owners
			f.join(org, c, model.RoleOwner)
			owners = append(owners, c)
		}
		n := 2 + rng.IntN(9)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for g := 0; g < n; g++ {
			me := owners[g%len(owners)]
			other := owners[(g+1)%len(owners)]
			op := (g/len(owners) + round) % 3
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				switch op {
				case 0:
					_, err = f.s.ChangeRole(f.ctx, me, org, other.AccountID, "member")
				case 1:
					err = f.s.RemoveMember(f.ctx, me, org, me.AccountID)
				case 2:
					_, err = f.s.ChangeRole(f.ctx, me, org, me.AccountID, "admin")
				}
				if err != nil {
					switch model.CodeOf(err) {
					case model.CodeConflict, model.CodeForbidden, model.CodeNotFound:
						// refused: expected for the losers
					default:
						errs <- err
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: unexpected error %v", round, err)
		}
		if got := f.owners(org); got < 1 {
			t.Fatalf("round %d (%d goroutines): %d owners left", round, n, got)
		}
	}
}
