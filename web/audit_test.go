package web_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"guildhall/db"
	"guildhall/web/webtest"
)

func TestAuditAPIFiltersAndCursor(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	bob, bobID := env.SignUpAPI("bob@example.com", "Bob")
	r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	orgID := int64(r.Data()["id"].(float64))
	for i := 0; i < 7; i++ {
		ada.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"description": fmt.Sprint("v", i)})
	}
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, orgID, bobID)
	bob.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"description": "mine"})
	// Members cannot read the log; the refusal is itself audited.
	if r := bob.Do(http.MethodGet, "/api/orgs/acme/audit", nil); r.Status != 403 {
		t.Fatalf("member reads audit: %d", r.Status)
	}
	all := ada.Do(http.MethodGet, "/api/orgs/acme/audit", nil)
	if all.Status != 200 {
		t.Fatalf("audit: %s", all.Raw)
	}
	evs := all.List()
	if len(evs) != 10 { // created + 7 updates + denied update + denied audit read
		t.Fatalf("events: %d\n%s", len(evs), all.Raw)
	}
	first := evs[0].(map[string]any)
	if first["action"] != "audit.read" || first["outcome"] != "denied" || first["actor_email"] != "bob@example.com" {
		t.Fatalf("newest event: %v", first)
	}
	if strings.Contains(all.Raw, `"description"`) || strings.Contains(all.Raw, "v3") {
		t.Fatal("audit events must not record arguments")
	}
	if p := all.Body["pagination"].(map[string]any); p["next_cursor"] != nil {
		t.Fatalf("one page: next_cursor %v, want null", p["next_cursor"])
	}
	denied := ada.Do(http.MethodGet, "/api/orgs/acme/audit?outcome=denied", nil)
	if len(denied.List()) != 2 {
		t.Fatalf("denied: %s", denied.Raw)
	}
	byActor := ada.Do(http.MethodGet, "/api/orgs/acme/audit?actor=bob@", nil)
	if len(byActor.List()) != 2 {
		t.Fatalf("actor filter: %s", byActor.Raw)
	}
	byAction := ada.Do(http.MethodGet, "/api/orgs/acme/audit?action=org.updated&outcome=success", nil)
	if len(byAction.List()) != 7 {
		t.Fatalf("action filter: %d", len(byAction.List()))
	}
	prefix := ada.Do(http.MethodGet, "/api/orgs/acme/audit?action=org.", nil)
	if len(prefix.List()) != 9 {
		t.Fatalf("action prefix: %d", len(prefix.List()))
	}
	future := ada.Do(http.MethodGet, "/api/orgs/acme/audit?since=2999-01-01", nil)
	if len(future.List()) != 0 {
		t.Fatalf("since filter: %d", len(future.List()))
	}
	past := ada.Do(http.MethodGet, "/api/orgs/acme/audit?until=2000-01-01T00:00:00Z", nil)
	if len(past.List()) != 0 {
		t.Fatalf("until filter: %d", len(past.List()))
	}
	for _, q := range []string{"outcome=maybe", "since=yesterday", "cursor=abc"} {
		if r := ada.Do(http.MethodGet, "/api/orgs/acme/audit?"+q, nil); r.Status != 422 {
			t.Errorf("%s: %d", q, r.Status)
		}
	}
	// Keyset pagination through the page handler's limit: walk the cursor.
	seen := map[float64]bool{}
	cursor := ""
	pages := 0
	for {
		p := ada.Do(http.MethodGet, "/api/orgs/acme/audit?limit=3"+cursor, nil)
		for _, e := range p.List() {
			id := e.(map[string]any)["id"].(float64)
			if seen[id] {
				t.Fatalf("event %v seen twice", id)
			}
			seen[id] = true
		}
		pages++
		next := p.Body["pagination"].(map[string]any)["next_cursor"]
		if next == nil {
			break
		}
		cursor = "&cursor=" + next.(string)
		if pages > 10 {
			t.Fatal("cursor does not end")
		}
	}
	if len(seen) != 10 {
		t.Fatalf("cursor walk saw %d events", len(seen))
	}
}

func TestAuditExport(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"})
	ada.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"description": "x"})
	get := func(format string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/orgs/acme/audit/export?format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+ada.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := get("csv")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	// The export records itself first, so it is the newest row.
	if err != nil || len(rows) != 4 || rows[0][5] != "action" || rows[1][5] != "audit.exported" || rows[2][5] != "org.updated" || rows[3][5] != "org.created" {
		t.Fatalf("csv rows %v %v", rows, err)
	}
	res, body = get("jsonl")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if res.StatusCode != 200 || len(lines) != 4 {
		t.Fatalf("jsonl: %d %q", res.StatusCode, body)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev["action"] != "audit.exported" {
		t.Fatalf("jsonl first line %q %v", lines[0], err)
	}
	if res, _ := get("xml"); res.StatusCode != 422 {
		t.Fatalf("bad format: %d", res.StatusCode)
	}
}

func TestAuditPage(t *testing.T) {
	env := webtest.New(t)
	c := env.SignUp("ada@example.com", "Ada")
	c.Post("/orgs", url.Values{"display_name": {"Acme"}, "slug": {"acme"}})
	for i := 0; i < 55; i++ {
		c.Post("/settings", url.Values{"display_name": {"Acme"}, "slug": {"acme"}, "description": {fmt.Sprint(i)}, "member_base_permission": {"none"}})
	}
	res := c.Get("/audit")
	if res.Status != 200 || strings.Count(res.Body, "<tr>")-1 != db.AuditPageSize || !strings.Contains(res.Body, "Older events") {
		t.Fatalf("first page: %d rows=%d", res.Status, strings.Count(res.Body, "<tr>")-1)
	}
	if res := c.Get("/audit?limit=50"); strings.Count(res.Body, "<tr>")-1 != 50 {
		t.Fatalf("limit=50: %d rows", strings.Count(res.Body, "<tr>")-1)
	}
	res = c.Get("/audit?action=org.created")
	if strings.Count(res.Body, "<tr>")-1 != 1 || strings.Contains(res.Body, "Older events") {
		t.Fatal("action filter on the page")
	}
	if res := c.Get("/audit?outcome=bogus"); res.Status != 422 || !strings.Contains(res.Body, "Outcome must be") {
		t.Fatalf("bad filter: %d", res.Status)
	}
	exp := c.Get("/audit/export?format=csv&action=org.created")
	if exp.Status != 200 || strings.Count(exp.Body, "\n") != 2 || !strings.Contains(exp.Body, "org.created") {
		t.Fatalf("page export: %d %q", exp.Status, exp.Body)
	}
	// A member sees neither the link nor the page.
	bob := env.SignUp("bob@example.com", "Bob")
	bobAcc, _ := env.Store.AccountByEmail(t.Context(), "bob@example.com")
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) SELECT id, $1, 'member' FROM orgs WHERE slug = 'acme'`, bobAcc.ID)
	bob.Post("/workspace", url.Values{"org_id": {"acme"}})
	if home := bob.Get("/"); strings.Contains(home.Body, `href="/audit"`) {
		t.Fatal("a member is offered the audit log")
	}
	if res := bob.Get("/audit"); res.Status != 403 {
		t.Fatalf("member opens /audit: %d", res.Status)
	}
}

func TestAuditAppendOnly(t *testing.T) {
	env := webtest.New(t)
	env.SignUpAPI("ada@example.com", "Ada")
	for _, q := range []string{`UPDATE audit_events SET action = 'x.y'`, `DELETE FROM audit_events`, `TRUNCATE audit_events`} {
		if _, err := env.Store.DB().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only trigger to refuse", q, err)
		}
	}
}

// TestAuditCSVNeutralisesFormulas: a team, an agent or an email that starts
// like a spreadsheet formula reaches the audit CSV (page and API) with a
// leading ', so opening the export runs nothing (OWASP CSV injection).
func TestAuditCSVNeutralisesFormulas(t *testing.T) {
	env := webtest.New(t)
	ada, _ := env.SignUpAPI("ada@example.com", "Ada")
	if r := ada.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Acme", "slug": "acme"}); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	evil := []string{`=HYPERLINK("http://evil.example","x")`, "+1+cmd", "-2+3", "@SUM(A1)"}
	for _, name := range evil {
		if r := ada.Do(http.MethodPost, "/api/orgs/acme/teams", map[string]any{"name": name}); r.Status != 201 {
			t.Fatalf("team %q: %d %s", name, r.Status, r.Raw)
		}
	}
	check := func(what, body string) {
		t.Helper()
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(rows) < len(evil)+1 {
			t.Fatalf("%s: %v %v", what, rows, err)
		}
		labels := map[string]bool{}
		for _, row := range rows[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+@\t\r", rune(cell[0])) || strings.HasPrefix(cell, "-") && cell != "-" && !isNumber(cell) {
					t.Errorf("%s: formula cell %q", what, cell)
				}
			}
			labels[row[8]] = true
		}
		for _, name := range evil {
			if !labels["'"+name] {
				t.Errorf("%s: no neutralised label for %q", what, name)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/orgs/acme/audit/export?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+ada.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	check("API export", string(b))

	c := env.NewClient()
	c.SignIn("ada@example.com", webtest.Password)
	if r := c.Post("/workspace", url.Values{"org_id": {fmt.Sprint(orgIDBySlug(t, env, "acme"))}}); r.Status >= 400 {
		t.Fatalf("switch: %d", r.Status)
	}
	page := c.Get("/audit/export?format=csv")
	if page.Status != 200 {
		t.Fatalf("page export: %d", page.Status)
	}
	check("page export", page.Body)
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
