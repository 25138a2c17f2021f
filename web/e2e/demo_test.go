package e2e

import (
	"net/http"
	"strconv"
	"testing"

	"guildhall/db/demo"
)

// TestDemoTour loads the demo data set and walks its pages as the demo owner:
// the data set must make every page look populated, and every page must
// render it.
func TestDemoTour(t *testing.T) {
	env, p := openServer(t)
	loaded, err := demo.Load(t.Context(), env.Store)
	if err != nil || !loaded {
		t.Fatalf("demo: %v %v", loaded, err)
	}
	p.SignIn(env.URL, "ada@example.com", demo.Password)
	p.wantText(".page-head h1", "Personal workspace")
	p.switchTo("acme")
	p.wantText(".page-head h1", "Acme Inc")
	p.wantText(".stats", "$66.00")
	p.shot("overview")

	pages := []struct{ path, sel, want string }{
		{"/members", "#members-list", "Grace Hopper"},
		{"/members", "#invitations", "barbara@example.com"},
		{"/teams", "#teams-list", "Platform"},
		{"/agents", "main", "Support triage"},
		{"/audit", "#audit-results", "invitation.accepted"},
		{"/wallet", "#transactions", "PDF reader"},
		{"/policies", "#policies", "Engineering team"},
		{"/approvals", "#approvals", "Deploy kit"},
		{"/packages", "#catalogue", "Incident runbooks"},
		{"/settings", "#delete", "still owns"},
	}
	for _, pg := range pages {
		if status := p.visit(pg.path); status != http.StatusOK {
			t.Fatalf("%s: %d", pg.path, status)
		}
		p.wantText(pg.sel, pg.want)
		p.shot(pg.path[1:])
	}
	// The settings page lists up front why Acme cannot be deleted yet, and
	// its dialog offers no delete button.
	p.visit("/settings")
	p.wantText("#delete-blockers", "Support triage")
	p.Click("#delete-org-open")
	p.WaitVisible("#delete-org .dialog-blockers")
	if p.exists("#delete-org button[type=submit]") {
		t.Fatal("the delete dialog offers deletion despite blockers")
	}
	p.shot("settings-delete-blocked-dialog")
	p.eval(`document.querySelector("#delete-org").close(); true`)
	p.wantText("#delete", "Support triage")
	p.wantText("#delete", "A balance of $66.00")
	p.shot("settings-delete-refused")

	var teamID, agentID int64
	_ = env.Store.DB().Get(&teamID, `SELECT id FROM teams WHERE name = 'Platform'`)
	_ = env.Store.DB().Get(&agentID, `SELECT id FROM agents WHERE name = 'Support triage'`)
	p.visit("/teams/" + strconv.FormatInt(teamID, 10))
	p.wantText("main", "Linus Torvalds")
	p.shot("team")
	p.visit("/agents/" + strconv.FormatInt(agentID, 10))
	p.wantText("main", "Platform")
	p.shot("agent")
}

// switchTo makes the org with slug active through the header switcher.
func (p *browserPage) switchTo(slug string) {
	p.t.Helper()
	p.eval(`document.querySelector("#switcher").open = true; true`)
	p.submit(`form[action="/workspace"] button[data-slug="` + slug + `"]`)
}
