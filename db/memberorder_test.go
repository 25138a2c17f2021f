package db_test

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/model"
)

// checkMemberOrder fails when a membership's stored sort key (migration
// 00011) differs from its role and account name, or a per-role count from a
// count of the memberships.
func checkMemberOrder(t *testing.T, e *tgEnv, when string) {
	t.Helper()
	if n := e.count(`SELECT count(*) FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.sort_name <> lower(a.name)
		   OR m.sort_rank <> CASE m.role WHEN 'owner' THEN 1 WHEN 'admin' THEN 2 WHEN 'member' THEN 3 ELSE 4 END`); n != 0 {
		t.Fatalf("%s: %d memberships with a stale sort key", when, n)
	}
	if n := e.count(`SELECT count(*) FROM (
			SELECT org_id, role, count(*) AS n FROM memberships GROUP BY org_id, role) x
		FULL JOIN (SELECT * FROM member_role_counts WHERE members <> 0) c USING (org_id, role)
		WHERE x.n IS DISTINCT FROM c.members`); n != 0 {
		t.Fatalf("%s: %d (org, role) counts wrong", when, n)
	}
}

// wantMembersOrder pages through org's members with every filter and page
// size, and compares each page, total and the owner count with a real
// ORDER BY and count over memberships joined to accounts. Each row's role,
// join date, name and address are compared too: the role and join date come
// from the order index (migration 00023), the rest from the account.
func wantMembersOrder(t *testing.T, e *tgEnv, viewer model.Actor, org int64, when string) {
	t.Helper()
	checkMemberOrder(t, e, when)
	for _, role := range []string{"", "owner", "admin", "member", "billing"} {
		var rows []struct {
			AccountID int64     `db:"account_id"`
			Role      string    `db:"role"`
			Joined    time.Time `db:"created_at"`
			Name      string    `db:"name"`
			Email     string    `db:"email"`
		}
		if err := e.s.DB().SelectContext(e.ctx, &rows, `SELECT m.account_id, m.role, m.created_at, a.name, a.email
			FROM memberships m JOIN accounts a ON a.id = m.account_id
			WHERE m.org_id = $1 AND ($2 = '' OR m.role = $2)
			ORDER BY CASE m.role WHEN 'owner' THEN 1 WHEN 'admin' THEN 2 WHEN 'member' THEN 3 ELSE 4 END, lower(a.name), a.id`, org, role); err != nil {
			t.Fatal(err)
		}
		var want, wantRows []string
		for _, r := range rows {
			want = append(want, fmt.Sprint(r.AccountID))
			wantRows = append(wantRows, fmt.Sprint(r.AccountID, r.Role, r.Joined.UTC().Format(time.RFC3339Nano), r.Name, r.Email))
		}
		owners := e.count(`SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, org)
		for _, per := range []int{1, 3, 7, 100} {
			var got, gotRows []string
			for page := 1; page <= len(want)/per+2; page++ {
				l, err := e.s.MemberList(e.ctx, viewer, org, db.MemberQuery{Role: role, Page: page, PerPage: per, Teams: true})
				if err != nil {
					t.Fatal(err)
				}
				if l.Total != len(want) || l.Owners != owners {
					t.Fatalf("%s: role %q: total %d, owners %d; want %d, %d", when, role, l.Total, l.Owners, len(want), owners)
				}
				if len(l.Rows) > per {
					t.Fatalf("%s: role %q page %d: %d rows at %d a page", when, role, page, len(l.Rows), per)
				}
				for _, r := range l.Rows {
					got = append(got, fmt.Sprint(r.AccountID))
					gotRows = append(gotRows, fmt.Sprint(r.AccountID, r.Role, r.JoinedAt.UTC().Format(time.RFC3339Nano), r.Name, r.Email))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: role %q at %d a page:\n got %v\nwant %v", when, role, per, got, want)
			}
			if strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
				t.Fatalf("%s: role %q at %d a page, rows:\n got %v\nwant %v", when, role, per, gotRows, wantRows)
			}
		}
	}
}

// The members list's stored order and per-role counts stay right when
// members join, leave, change role (many at once) and rename themselves.
func TestMemberOrderAndRoleCountsStayExact(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Ordered")
	other := e.org(owner, "Other")
	e.exec(`UPDATE orgs SET limit_team_members = 100 WHERE id = ANY($1)`, []int64{org, other})
	names := []string{"bea", "Alma", "alma", "Zed", "émile", "Bo", "carl", "Dana", "dana", "Eve", "Finn", "Gus"}
	var members []model.Actor
	for i, n := range names {
		m, _ := e.user(fmt.Sprintf("%s %02d", n, i))
		// the same name twice: the account id breaks the tie
		e.exec(`UPDATE accounts SET name = $1 WHERE id = $2`, n, m.AccountID)
		e.join(org, m, []model.Role{model.RoleMember, model.RoleAdmin, model.RoleBilling}[i%3])
		if i%2 == 0 {
			e.join(other, m, model.RoleMember)
		}
		members = append(members, m)
	}
	tm := e.team(owner, org, "Crew")
	if _, err := e.s.SetTeamMember(e.ctx, owner, org, tm.ID, members[0].AccountID, "member"); err != nil {
		t.Fatal(err)
	}
	wantMembersOrder(t, e, owner, org, "after joining")
	l, err := e.s.MemberList(e.ctx, owner, org, db.MemberQuery{Role: "member", PerPage: 100, Teams: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Teams[members[0].AccountID]; len(got) != 1 || got[0] != "Crew" {
		t.Fatalf("teams of %d: %v", members[0].AccountID, got)
	}

	// Role changes from many goroutines at once, renames among them.
	rng := rand.New(rand.NewSource(1))
	roles := []string{"admin", "member", "billing"}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for round := 0; round < 4; round++ {
		for i, m := range members {
			to := roles[rng.Intn(len(roles))]
			name := fmt.Sprintf("%c renamed %d", 'a'+rune(rng.Intn(26)), round)
			wg.Add(1)
			go func(i int, m model.Actor, to string) {
				defer wg.Done()
				if i%4 == round {
					_, err := e.s.UpdateProfile(e.ctx, m, name)
					errs <- err
					return
				}
				_, err := e.s.ChangeRole(e.ctx, owner, org, m.AccountID, to)
				errs <- err
			}(i, m, to)
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantMembersOrder(t, e, owner, org, "after concurrent role changes and renames")
	wantMembersOrder(t, e, owner, other, "the other org after renames")

	// Ownership moves, members leave and are removed, someone rejoins, an
	// account goes (a cascade over both orgs).
	if _, err := e.s.ChangeRole(e.ctx, owner, org, members[1].AccountID, "owner"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.TransferOwnership(e.ctx, owner, org, members[2].AccountID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveMember(e.ctx, members[1], org, members[3].AccountID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveMember(e.ctx, members[4], org, members[4].AccountID); err != nil {
		t.Fatal(err)
	}
	e.join(org, members[4], model.RoleBilling)
	e.exec(`DELETE FROM accounts WHERE id = $1`, members[6].AccountID)
	wantMembersOrder(t, e, members[1], org, "after leaving, removals and a deleted account")
	wantMembersOrder(t, e, owner, other, "the other org after a deleted account")

	// Members leave and others join, all at once.
	var joiners []model.Actor
	for i := 0; i < 8; i++ {
		m, _ := e.user(fmt.Sprintf("Late %02d", i))
		joiners = append(joiners, m)
	}
	l, err = e.s.MemberList(e.ctx, members[1], org, db.MemberQuery{Role: "member", PerPage: 100})
	if err != nil || len(l.Rows) == 0 {
		t.Fatalf("no plain members to remove: %v", err)
	}
	errs = make(chan error, 20)
	for i, m := range joiners {
		wg.Add(1)
		go func(i int, m model.Actor) {
			defer wg.Done()
			_, err := e.s.DB().ExecContext(e.ctx, `INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`,
				org, m.AccountID, []string{"member", "admin", "billing"}[i%3])
			errs <- err
		}(i, m)
	}
	for _, m := range l.Rows {
		wg.Add(1)
		go func(id int64) {
			defer wg.Done()
			errs <- e.s.RemoveMember(e.ctx, members[1], org, id)
		}(m.AccountID)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantMembersOrder(t, e, members[1], org, "after concurrent joins and removals")

	// Deleting an org takes its counts with it.
	e.exec(`DELETE FROM orgs WHERE id = $1`, other)
	checkMemberOrder(t, e, "after deleting an org")
	if n := e.count(`SELECT count(*) FROM member_role_counts WHERE org_id = $1`, other); n != 0 {
		t.Fatalf("%d counts left for a deleted org", n)
	}
}
