package db_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"guildhall/db/model"
)

// A date range lists events by time, newest first, and its pages (cursor =
// event id) cover every event in the range exactly once, even when ids and
// times disagree (an event committed late with an earlier time).
func TestAuditDateRangePages(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Ranges")
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// 40 events whose times are shuffled against their ids, two sharing a time.
	for i := 0; i < 40; i++ {
		at := base.Add(time.Duration((i*17)%40) * time.Hour)
		if i == 39 {
			at = base.Add(5 * time.Hour)
		}
		e.exec(`INSERT INTO audit_events (org_id, actor_id, actor_email, action, outcome, created_at)
			VALUES ($1, $2, $3, 'agent.created', 'success', $4)`, org, owner.AccountID, owner.Email, at)
	}
	since, until := base.Add(3*time.Hour), base.Add(30*time.Hour)
	var want int
	if err := e.s.DB().Get(&want, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND created_at >= $2 AND created_at < $3`, org, since, until); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	var last *model.AuditEvent
	f := model.AuditFilter{Since: &since, Until: &until, Limit: 7}
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		p, err := e.s.ListAudit(e.ctx, owner, org, f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Events {
			ev := p.Events[i]
			if seen[ev.ID] {
				t.Fatalf("event %d listed twice", ev.ID)
			}
			seen[ev.ID] = true
			if ev.CreatedAt.Before(since) || !ev.CreatedAt.Before(until) {
				t.Fatalf("event %d at %v is outside the range", ev.ID, ev.CreatedAt)
			}
			if last != nil && (ev.CreatedAt.After(last.CreatedAt) || ev.CreatedAt.Equal(last.CreatedAt) && ev.ID > last.ID) {
				t.Fatalf("event %d (%v) after %d (%v): not newest first", ev.ID, ev.CreatedAt, last.ID, last.CreatedAt)
			}
			last = &ev
		}
		if p.Next == 0 {
			break
		}
		f.Before = p.Next
	}
	if len(seen) != want || want == 0 {
		t.Fatalf("pages listed %d events, the range holds %d", len(seen), want)
	}
}

// TestListAuditMatchesSQLX: the audit list, read without reflection, lists
// field by field (NULL ids and times included) what the query read through
// sqlx listed: every action prefix (a common one, a rare one, one matching
// nothing, one with LIKE's wildcards in it, the next action up the
// alphabet), every page size, every cursor, and the other filters (exact
// action, actor, outcome, a prefix with an outcome).
func TestListAuditMatchesSQLX(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	other, _ := e.user("Other")
	org := e.org(owner, "Logs")
	elsewhere := e.org(other, "Elsewhere")
	actions := []string{"member.removed", "member.role_changed", "member.left", "membership.x", "member_x.y", "agent.created",
		"grant.set", "team.created", "members.z"}
	for i := 0; i < 120; i++ {
		a := actions[(i*7)%len(actions)]
		if i%13 == 0 {
			a = "member.left" // a rare action, bunched
		}
		outcome, tok := "success", any(nil)
		if i%5 == 0 {
			outcome = "denied"
		}
		in := org
		if i%11 == 0 {
			in = elsewhere
		}
		e.exec(`INSERT INTO audit_events (org_id, actor_id, actor_email, token_id, action, target_kind, target_id, target_label, outcome, ip)
			VALUES ($1, $2, $3, $4, $5, 'member', $6, 'label', $7, '10.0.0.1')`, in, owner.AccountID, owner.Email, tok, a, fmt.Sprint(i), outcome)
	}
	e.exec(`INSERT INTO audit_events (org_id, actor_id, actor_email, action, outcome) VALUES ($1, NULL, '', 'member.removed', 'error')`, org)
	sqlxList := func(f model.AuditFilter) []model.AuditEvent {
		t.Helper()
		q := `SELECT id, org_id, actor_id, actor_email, token_id, action, target_kind, target_id, target_label, outcome, ip, created_at
			FROM audit_events WHERE org_id = $1`
		args := []any{org}
		if f.Action != "" {
			if strings.HasSuffix(f.Action, ".") {
				args = append(args, strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Action)+"%")
				q += fmt.Sprintf(` AND action LIKE $%d`, len(args))
			} else {
				args = append(args, f.Action)
				q += fmt.Sprintf(` AND action = $%d`, len(args))
			}
		}
		if f.Outcome != "" {
			args = append(args, f.Outcome)
			q += fmt.Sprintf(` AND outcome = $%d`, len(args))
		}
		if f.Actor != "" {
			args = append(args, f.Actor)
			q += fmt.Sprintf(` AND actor_id = $%d`, len(args))
		}
		if f.Before > 0 {
			args = append(args, f.Before)
			q += fmt.Sprintf(` AND id < $%d`, len(args))
		}
		var evs []model.AuditEvent
		if err := e.s.DB().Select(&evs, q+fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, f.Limit+1), args...); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	filters := []model.AuditFilter{{Action: "member."}, {Action: "member_"}, {Action: "member_x."}, {Action: "members."},
		{Action: "nothing."}, {Action: "m%."}, {Action: "agent."}, {Action: "member.left"}, {Action: "member.", Outcome: "denied"},
		{Outcome: "denied"}, {Outcome: "error"}, {Outcome: "success"}, {Actor: fmt.Sprint(owner.AccountID)}, {}}
	for _, f := range filters {
		for _, limit := range []int{1, 3, 25, 50, 200} {
			f.Limit = limit
			f.Before = 0
			for pages := 0; ; pages++ {
				want := sqlxList(f)
				p, err := e.s.ListAudit(e.ctx, owner, org, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(want) > limit {
					if p.Next != want[limit-1].ID {
						t.Errorf("%+v: next %d, want %d", f, p.Next, want[limit-1].ID)
					}
					want = want[:limit]
				} else if p.Next != 0 {
					t.Errorf("%+v: next %d at the end", f, p.Next)
				}
				if len(p.Events) != len(want) || len(want) > 0 && !reflect.DeepEqual(p.Events, want) {
					t.Fatalf("%+v page %d:\n got %+v\nwant %+v", f, pages, p.Events, want)
				}
				if p.Next == 0 || pages > 200 {
					break
				}
				f.Before = p.Next
			}
		}
	}
}
