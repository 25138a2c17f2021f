package db_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"guildhall/db/model"
)

// A partial actor filter lists exactly the events ILIKE '%part%' would,
// newest first and page by page, whether the part is resolved to a few
// addresses (audit_actors) or is common enough to be matched on the walk;
// and audit_actors holds every address of each org's log, however the
// events were written.
func TestAuditPartialActor(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner")
	org := e.org(owner, "Actors")
	other := e.org(owner, "Elsewhere")
	add := func(orgID int64, email string, n int) {
		e.exec(`INSERT INTO audit_events (org_id, actor_email, action, outcome)
			SELECT $1, $2, 'agent.created', 'success' FROM generate_series(1, $3)`, orgID, email, n)
	}
	add(org, "Ada.Lovelace@Example.com", 3)
	add(org, "under_score@x.test", 2)
	add(org, "underXscore@x.test", 2)
	add(org, "pct%sign@x.test", 1)
	add(other, "grace@other.test", 4)
	// 150 actors share "bulk" (more than are read by address), with 3
	// events each, written in one statement.
	e.exec(`INSERT INTO audit_events (org_id, actor_email, action, outcome)
		SELECT $1, 'bulk' || (i % 150) || '@x.test', 'member.invited', 'success' FROM generate_series(0, 449) i`, org)
	add(org, "ada.lovelace@example.com", 1) // the same person, written in another case

	var missing int
	if err := e.s.DB().Get(&missing, `SELECT count(*) FROM (SELECT DISTINCT org_id, actor_email FROM audit_events WHERE org_id IS NOT NULL
		EXCEPT SELECT org_id, actor_email FROM audit_actors) x`); err != nil {
		t.Fatal(err)
	}
	var extra int
	if err := e.s.DB().Get(&extra, `SELECT count(*) FROM (SELECT org_id, actor_email FROM audit_actors
		EXCEPT SELECT DISTINCT org_id, actor_email FROM audit_events WHERE org_id IS NOT NULL) x`); err != nil {
		t.Fatal(err)
	}
	if missing != 0 || extra != 0 {
		t.Fatalf("audit_actors: %d addresses of the log missing, %d not in it", missing, extra)
	}

	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	since := e.now.AddDate(-1, 0, 0)
	// With another filter too: an action, or a date range (read by time).
	others := []struct {
		f    model.AuditFilter
		cond string
	}{
		{model.AuditFilter{}, "true"},
		{model.AuditFilter{Action: "member.invited"}, "action = 'member.invited'"},
		{model.AuditFilter{Since: &since}, "created_at >= '" + since.Format(time.RFC3339) + "'"},
	}
	for _, part := range []string{"zzz", "ada", "ADA.love", "under_s", "t%s", "bulk", "bulk1", "@other.test", "@x.test", "x.test"} {
		for _, o := range others {
			var want []int64
			if err := e.s.DB().Select(&want, `SELECT id FROM audit_events WHERE org_id = $1 AND actor_email ILIKE $2 AND `+o.cond+` ORDER BY id DESC`,
				org, "%"+like.Replace(strings.ToLower(part))+"%"); err != nil {
				t.Fatal(err)
			}
			var got []int64
			f := o.f
			f.Actor, f.Limit = part, 7
			for pages := 0; ; pages++ {
				if pages > 200 {
					t.Fatalf("%q: paging does not end", part)
				}
				p, err := e.s.ListAudit(e.ctx, owner, org, f)
				if err != nil {
					t.Fatalf("%q: %v", part, err)
				}
				for _, ev := range p.Events {
					got = append(got, ev.ID)
				}
				if p.Next == 0 {
					break
				}
				f.Before = p.Next
			}
			if !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Errorf("%q %s: listed %d events %v, want %d %v", part, o.cond, len(got), head(got), len(want), head(want))
			}
			if o.cond != "true" {
				continue
			}
			var exported []int64
			err := e.s.ExportAudit(e.ctx, owner, org, model.AuditFilter{Actor: part}, "csv", func(ev model.AuditEvent) error {
				if ev.Action != "audit.exported" {
					exported = append(exported, ev.ID)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%q: export: %v", part, err)
			}
			if !reflect.DeepEqual(exported, want) && (len(exported) != 0 || len(want) != 0) {
				t.Errorf("%q: exported %d events, want %d", part, len(exported), len(want))
			}
		}
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 5)] }
