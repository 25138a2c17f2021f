package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"guildhall/db/model"
	"guildhall/web"
	"guildhall/web/mail"
	"guildhall/web/webtest"
)

// usageOrg is an org with an owner's API client, a token bound to the org
// and two agents.
type usageOrg struct {
	env            *webtest.Env
	owner          *webtest.API
	ownerID        int64
	bot            *webtest.API // a token bound to the org
	orgID          int64
	agentA, agentB int64
}

func newUsageOrg(t testing.TB, env *webtest.Env, slug string, limit int) *usageOrg {
	t.Helper()
	u := &usageOrg{env: env}
	u.owner, u.ownerID = env.SignUpAPI(slug+"-owner@example.com", "Owner of "+slug)
	r := u.owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Org " + slug, "slug": slug})
	if r.Status != http.StatusCreated {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	u.orgID = tokenNum(r.Data()["id"])
	if limit > 0 {
		env.Store.DB().MustExec(`UPDATE orgs SET limit_monthly_requests = $1 WHERE id = $2`, limit, u.orgID)
	}
	tok := u.owner.Do(http.MethodPost, "/api/me/tokens", map[string]any{"name": "script", "org": slug})
	if tok.Status != http.StatusCreated {
		t.Fatalf("create token: %d %s", tok.Status, tok.Raw)
	}
	u.bot = env.NewAPI(tok.Data()["token"].(string))
	return u
}

// agents creates the two agents with the bound token (two counted requests).
func (u *usageOrg) agents(t *testing.T) {
	t.Helper()
	for i, p := range []*int64{&u.agentA, &u.agentB} {
		r := u.bot.Do(http.MethodPost, "/api/agents", map[string]any{"name": []string{"Alpha", "Beta"}[i], "org": strconv.FormatInt(u.orgID, 10)})
		if r.Status != http.StatusCreated {
			t.Fatalf("create agent: %d %s", r.Status, r.Raw)
		}
		*p = tokenNum(r.Data()["id"])
	}
}

func flush(t *testing.T, s *web.Server) {
	t.Helper()
	if err := s.Meter().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func usageOf(t *testing.T, api *webtest.API, path string) map[string]any {
	t.Helper()
	r := api.Do(http.MethodGet, path, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
	}
	return r.Data()
}

// TestUsageScriptByDayAndAgent: a script with a token makes requests
// against two agents; after a flush the usage API shows them by day and by
// agent; a member of another org sees nothing and cannot spend this org's
// requests; requests outside any org are not counted.
func TestUsageScriptByDayAndAgent(t *testing.T) {
	env := webtest.New(t)
	u := newUsageOrg(t, env, "acme", 0)
	u.agents(t) // 2 requests, no agent
	for i := 0; i < 3; i++ {
		if r := u.bot.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", u.agentA), nil); r.Status != 200 {
			t.Fatalf("get agent: %d %s", r.Status, r.Raw)
		}
	}
	u.bot.Do(http.MethodPatch, fmt.Sprintf("/api/agents/%d", u.agentB), map[string]any{"description": "second"})
	u.bot.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d/access", u.agentB), nil)
	r := u.bot.Do(http.MethodGet, "/api/orgs/acme/teams", nil)
	if r.Header.Get("X-RateLimit-Limit") != "50000" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(50000-8) {
		t.Fatalf("rate headers: limit %q remaining %q", r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
	}
	reset, _ := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if want := model.NextMonthStart(env.Clock.Now()).Unix(); reset != want {
		t.Fatalf("X-RateLimit-Reset %d, want %d", reset, want)
	}
	// The owner's unbound token outside an org: not counted, no headers.
	if me := u.owner.Do(http.MethodGet, "/api/me", nil); me.Header.Get("X-RateLimit-Limit") != "" {
		t.Fatal("a request without an org context carries rate headers")
	}
	// With the unbound token, the org in the path or the agent decides.
	u.owner.Do(http.MethodGet, "/api/orgs/acme/members", nil)
	u.owner.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", u.agentA), nil)
	// 2 creates + 3 + 2 on agents + teams + members + 1 more on A = 10.

	// A member of another org: 404, no headers, nothing counted for acme.
	other, _ := env.SignUpAPI("mallory@example.com", "Mallory")
	for _, p := range []string{"/api/orgs/acme/usage", fmt.Sprintf("/api/agents/%d", u.agentA), "/api/orgs/acme"} {
		r := other.Do(http.MethodGet, p, nil)
		if r.Status != http.StatusNotFound || r.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("stranger GET %s: %d headers %v", p, r.Status, r.Header)
		}
	}
	if r := other.Do(http.MethodGet, "/api/orgs/"+strconv.FormatInt(u.orgID, 10)+"/usage", nil); r.Status != http.StatusNotFound {
		t.Fatalf("stranger by id: %d", r.Status)
	}

	flush(t, env.Server)
	d := usageOf(t, u.owner, "/api/orgs/acme/usage")
	req, _ := d["requests"].(map[string]any)
	if d["period"] != "month" || num(req["total"]) != 10 || num(req["limit"]) != 50000 || req["percentage"] != 0.0 {
		t.Fatalf("usage: %v", d)
	}
	today := env.Clock.Now().UTC().Format(time.DateOnly)
	var seen bool
	for _, x := range d["by_day"].([]any) {
		day := x.(map[string]any)
		if day["date"] == today {
			seen = num(day["requests"]) == 10
		} else if num(day["requests"]) != 0 {
			t.Fatalf("requests on another day: %v", day)
		}
	}
	if !seen {
		t.Fatalf("by_day lacks today's 10: %v", d["by_day"])
	}
	byAgent := d["by_agent"].([]any)
	if len(byAgent) != 2 {
		t.Fatalf("by_agent: %v", byAgent)
	}
	a, b := byAgent[0].(map[string]any), byAgent[1].(map[string]any)
	if num(a["agent_id"]) != u.agentA || a["name"] != "Alpha" || num(a["requests"]) != 4 ||
		num(b["agent_id"]) != u.agentB || b["name"] != "Beta" || num(b["requests"]) != 2 {
		t.Fatalf("by_agent: %v", byAgent)
	}
	if s := d["start_date"].(string); !strings.HasSuffix(s, "-01T00:00:00Z") || !strings.HasSuffix(d["end_date"].(string), "T23:59:59Z") {
		t.Fatalf("dates %v %v", d["start_date"], d["end_date"])
	}

	// The org answer carries plan, limits and the use of each.
	o := usageOf(t, u.owner, "/api/orgs/acme")
	lim, _ := o["limits"].(map[string]any)
	use, _ := o["usage"].(map[string]any)
	if o["plan"] != "free" || num(lim["agents"]) != 10 || num(lim["monthly_requests"]) != 50000 ||
		num(use["agents"]) != 2 || num(use["team_members"]) != 1 || num(use["api_keys"]) != 1 || num(use["monthly_requests"]) < 10 {
		t.Fatalf("org: %v", o)
	}

	// The background flusher alone brings new requests in within about a second.
	u.bot.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", u.agentB), nil)
	deadline := time.Now().Add(3 * time.Second)
	for {
		var n int64
		env.Store.DB().Get(&n, `SELECT requests FROM usage_daily WHERE org_id = $1 AND agent_id = $2`, u.orgID, u.agentB)
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent B has %d requests after 3 s, want 3", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUsageLimit429AndMonthReset: with a small limit, the request past it
// answers 429 plan_limit with Retry-After pointing at the next UTC month;
// the count starts again on the 1st.
func TestUsageLimit429AndMonthReset(t *testing.T) {
	env := webtest.New(t)
	u := newUsageOrg(t, env, "tiny", 3)
	for i := 1; i <= 3; i++ {
		r := u.bot.Do(http.MethodGet, "/api/orgs/tiny", nil)
		if r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(3-i) || r.Header.Get("X-RateLimit-Limit") != "3" {
			t.Fatalf("request %d: %d remaining %q", i, r.Status, r.Header.Get("X-RateLimit-Remaining"))
		}
	}
	now := env.Clock.Now()
	next := model.NextMonthStart(now)
	r := u.bot.Do(http.MethodGet, "/api/orgs/tiny", nil)
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "plan_limit" || r.Header.Get("X-RateLimit-Remaining") != "0" ||
		r.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(next.Unix(), 10) {
		t.Fatalf("over the limit: %d %s %v", r.Status, r.Raw, r.Header)
	}
	retry, _ := strconv.ParseInt(r.Header.Get("Retry-After"), 10, 64)
	if want := int64(next.Sub(now).Seconds()); retry < want-5 || retry > want+5 {
		t.Fatalf("Retry-After %d, want about %d", retry, want)
	}
	// Refused requests are not counted; other orgs are not affected.
	flush(t, env.Server)
	var n int64
	env.Store.DB().Get(&n, `SELECT requests FROM usage_monthly WHERE org_id = $1`, u.orgID)
	if n != 3 {
		t.Fatalf("recorded %d, want 3", n)
	}
	if r := u.owner.Do(http.MethodGet, "/api/orgs/tiny-owner-example-com", nil); r.Status == http.StatusTooManyRequests {
		t.Fatal("the personal org is limited by another org's count")
	}

	// The first of the next month, the count starts again.
	env.Clock.Advance(next.Sub(now) + time.Minute)
	r = u.bot.Do(http.MethodGet, "/api/orgs/tiny", nil)
	if r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("next month: %d remaining %q", r.Status, r.Header.Get("X-RateLimit-Remaining"))
	}
	if got := r.Header.Get("X-RateLimit-Reset"); got != strconv.FormatInt(model.NextMonthStart(env.Clock.Now()).Unix(), 10) {
		t.Fatalf("reset %s", got)
	}
	flush(t, env.Server)
	d := usageOf(t, u.owner, "/api/orgs/tiny/usage")
	if req := d["requests"].(map[string]any); num(req["total"]) != 1 || req["percentage"] != 33.3 {
		t.Fatalf("this month's usage: %v", d["requests"])
	}
}

// TestUsageTwoInstancesCountTogether: two servers on one database, each
// with its own meter, add up, and both refuse once the sum is at the limit.
func TestUsageTwoInstancesCountTogether(t *testing.T) {
	env := webtest.New(t)
	u := newUsageOrg(t, env, "twin", 12)
	cfg := web.Config{Addr: "127.0.0.1:0", BaseURL: env.URL, Dev: true}
	second := web.New(web.Options{Config: cfg, Store: env.Store, Mailer: mail.OutboxMailer{Store: env.Store}, Secret: "test-secret-0123456789abcdef0123456789"})
	ts := httptest.NewServer(second.Handler())
	t.Cleanup(func() { _ = second.Meter().Close() })
	t.Cleanup(ts.Close)
	call := func(base string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/orgs/twin/teams", nil)
		req.Header.Set("Authorization", "Bearer "+u.bot.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < 5; i++ {
		call(env.URL)
	}
	for i := 0; i < 7; i++ {
		call(ts.URL)
	}
	flush(t, env.Server)
	flush(t, second)
	var n int64
	env.Store.DB().Get(&n, `SELECT requests FROM usage_monthly WHERE org_id = $1`, u.orgID)
	if n != 12 {
		t.Fatalf("two instances recorded %d, want 12", n)
	}
	// Both know the shared count after their next flush: both refuse.
	flush(t, env.Server)
	flush(t, second)
	if a, b := call(env.URL), call(ts.URL); a != http.StatusTooManyRequests || b != http.StatusTooManyRequests {
		t.Fatalf("at the shared limit: first %d, second %d", a, b)
	}
}

// TestUsageAPIPeriodsAndValidation: periods, ranges and bad input (422).
func TestUsageAPIPeriodsAndValidation(t *testing.T) {
	env := webtest.New(t)
	u := newUsageOrg(t, env, "periods", 0)
	today := env.Clock.Now().UTC()
	d := usageOf(t, u.owner, "/api/orgs/periods/usage?period=day")
	if d["period"] != "day" || len(d["by_day"].([]any)) != 1 || d["start_date"] != today.Format(time.DateOnly)+"T00:00:00Z" {
		t.Fatalf("day: %v", d)
	}
	d = usageOf(t, u.owner, "/api/orgs/periods/usage?period=week")
	if d["period"] != "week" || len(d["by_day"].([]any)) != 7 {
		t.Fatalf("week: %v", d)
	}
	d = usageOf(t, u.owner, "/api/orgs/periods/usage?start_date=2026-01-01&end_date=2026-03-31")
	if d["period"] != "custom" || len(d["by_day"].([]any)) != 90 || d["end_date"] != "2026-03-31T23:59:59Z" || len(d["by_agent"].([]any)) != 0 {
		t.Fatalf("range: %v", d)
	}
	for _, q := range []string{"period=year", "start_date=yesterday", "start_date=2026-03-01&end_date=2026-02-01",
		"end_date=2026-01-01", "period=week&start_date=2026-01-01", "start_date=2020-01-01&end_date=2026-01-01",
		"start_date=" + url.QueryEscape("2026-01-01\x00")} {
		r := u.owner.Do(http.MethodGet, "/api/orgs/periods/usage?"+q, nil)
		if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "validation_error" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Raw)
		}
	}
}

// TestPlanChange: owners change the plan (audited, no payment), others are
// refused and audited, a downgrade below current use is refused, and the
// settings page shows the plan, every limit and the form to owners only.
func TestPlanChange(t *testing.T) {
	env := webtest.New(t)
	u := newUsageOrg(t, env, "plans", 0)
	admin, adminID := env.SignUpAPI("admin@example.com", "Admin")
	env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'admin')`, u.orgID, adminID)

	r := admin.Do(http.MethodPut, "/api/orgs/plans/plan", map[string]any{"plan": "pro"})
	if r.Status != http.StatusForbidden {
		t.Fatalf("admin changes plan: %d %s", r.Status, r.Raw)
	}
	r = u.owner.Do(http.MethodPut, "/api/orgs/plans/plan", map[string]any{"plan": "gold"})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad plan: %d %s", r.Status, r.Raw)
	}
	r = u.owner.Do(http.MethodPut, "/api/orgs/plans/plan", map[string]any{"plan": "pro"})
	lim, _ := r.Data()["limits"].(map[string]any)
	if r.Status != 200 || r.Data()["plan"] != "pro" || num(lim["monthly_requests"]) != 1000000 || num(lim["agents"]) != 100 {
		t.Fatalf("owner to pro: %d %s", r.Status, r.Raw)
	}
	var ok, denied int
	env.Store.DB().Get(&ok, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'org.plan_changed' AND outcome = 'success'`, u.orgID)
	env.Store.DB().Get(&denied, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'org.plan_changed' AND outcome = 'denied'`, u.orgID)
	if ok != 1 || denied != 1 {
		t.Fatalf("audit: %d success, %d denied", ok, denied)
	}
	// The meter picks the new limit up at its next flush.
	flush(t, env.Server)
	if r := u.bot.Do(http.MethodGet, "/api/orgs/plans", nil); r.Header.Get("X-RateLimit-Limit") != "1000000" {
		t.Fatalf("limit header after upgrade: %q", r.Header.Get("X-RateLimit-Limit"))
	}
	// Eleven agents on pro: back to free (10 agents) is refused.
	for i := 0; i < 11; i++ {
		u.bot.Do(http.MethodPost, "/api/agents", map[string]any{"name": fmt.Sprintf("a%d", i), "org": "plans"})
	}
	r = u.owner.Do(http.MethodPut, "/api/orgs/plans/plan", map[string]any{"plan": "free"})
	if r.Status != http.StatusForbidden || r.ErrorCode() != "plan_limit" || !strings.Contains(r.ErrorMessage(), "11") {
		t.Fatalf("downgrade over the limit: %d %s", r.Status, r.Raw)
	}

	// Settings: the owner sees the form and the no-payment note; the admin
	// sees the plan and limits only.
	web := env.NewClient()
	web.SignIn("plans-owner@example.com", webtest.Password)
	web.Post("/workspace", url.Values{"org": {"plans"}})
	page := web.Get("/settings")
	for _, want := range []string{`id="plan-form"`, "No payment is taken", `id="limit-monthly_requests"`, `id="limit-api_keys"`,
		`id="limit-team_members"`, `id="limit-agents"`, "11 / 100", `id="plan-name">Pro<`} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("owner's settings lack %q", want)
		}
	}
	res := web.Post("/settings/plan", url.Values{"plan": {"team"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("plan form: %d", res.Status)
	}
	if p := web.Get("/settings"); !strings.Contains(p.Body, `id="plan-name">Team<`) || !strings.Contains(p.Body, "No payment was taken") {
		t.Fatal("the plan form did not change the plan")
	}
	env.Store.DB().MustExec(`UPDATE accounts SET email_verified_at = now() WHERE id = $1`, adminID)
	aw := env.NewClient()
	aw.SignIn("admin@example.com", webtest.Password)
	aw.Post("/workspace", url.Values{"org": {"plans"}})
	if p := aw.Get("/settings"); strings.Contains(p.Body, `id="plan-form"`) || !strings.Contains(p.Body, `id="plan-name">Team<`) {
		t.Fatal("an admin sees the plan form, or not the plan")
	}
	if res := aw.Post("/settings/plan", url.Values{"plan": {"free"}}); res.Status != http.StatusForbidden || !strings.Contains(res.Body, "Only an owner") {
		t.Fatalf("an admin's plan change: %d", res.Status)
	}
	var plan string
	env.Store.DB().Get(&plan, `SELECT plan FROM orgs WHERE id = $1`, u.orgID)
	if plan != "team" {
		t.Fatalf("plan %s after the admin's attempt", plan)
	}
}

// TestUsagePageRolesAndBadRange: every role of the org opens /usage (SPEC 2),
// it shows the org's numbers, and a bad range re-renders the page with 422
// and the field's message.
func TestUsagePageRolesAndBadRange(t *testing.T) {
	env := webtest.New(t)
	u := newUsageOrg(t, env, "roles", 0)
	u.agents(t)
	u.bot.Do(http.MethodGet, fmt.Sprintf("/api/agents/%d", u.agentA), nil)
	flush(t, env.Server)
	for _, role := range []string{"admin", "member", "billing"} {
		email := role + "@example.com"
		_, id := env.SignUpAPI(email, "A "+role)
		env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, u.orgID, id, role)
		c := env.NewClient()
		c.SignIn(email, webtest.Password)
		c.Post("/workspace", url.Values{"org": {"roles"}})
		p := c.Get("/usage")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="usage-total">3<`) || !strings.Contains(p.Body, "Alpha") ||
			!strings.Contains(p.Body, `id="limit-monthly_requests"`) {
			t.Fatalf("%s: /usage %d\n%s", role, p.Status, p.Body)
		}
		if !strings.Contains(c.Get("/").Body, `href="/usage"`) {
			t.Fatalf("%s: no link to /usage", role)
		}
	}
	c := env.NewClient()
	c.SignIn("roles-owner@example.com", webtest.Password)
	c.Post("/workspace", url.Values{"org": {"roles"}})
	p := c.Get("/usage?start_date=2026-05-01&end_date=2026-04-01")
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "end_date must not be before start_date") {
		t.Fatalf("bad range: %d", p.Status)
	}
	if p := c.Get("/usage?period=fortnight"); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Unknown period") {
		t.Fatalf("bad period: %d", p.Status)
	}
	if p := c.Get("/usage?period=day"); p.Status != http.StatusOK || !strings.Contains(p.Body, "today (") {
		t.Fatalf("day: %d", p.Status)
	}
}
