package db_test

import (
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
