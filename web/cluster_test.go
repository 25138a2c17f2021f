package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"guildhall/web/webtest"
)

// Two servers on one database behind a round-robin proxy behave as one: a
// session started on one is honoured by the other (and its CSRF token), an
// invitation mail goes out exactly once although both run a mail worker, the
// invitee joins through either, sign-out ends the session on both, and the
// sign-in budget is shared rather than doubled. A purchase walks across
// both too (walkPurchase): top-up on one, buy on the other, the idempotency
// key replays on either.
func TestTwoServersBehindARoundRobinProxy(t *testing.T) {
	cl := webtest.NewCluster(t, 2, webtest.Options{SignInLimit: 4})
	env := cl.Env
	owner := memberOrg(t, env, "olive@example.com", "Olive Owner", "Acme")
	org := orgIDBySlug(t, env, "acme")

	invitees := []string{"bob@example.com", "cy@example.com", "dee@example.com"}
	for _, email := range invitees {
		res := owner.Post("/members/invitations", url.Values{"email": {email}, "role": {"member"}})
		wantStatus(t, res, http.StatusSeeOther)
	}
	// Every page answers on both servers with the one session.
	for i := 0; i < 4; i++ {
		wantStatus(t, owner.Get("/members"), http.StatusOK, "Pending invitations", "bob@example.com")
	}

	// Each invitation is delivered exactly once, though both workers poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := env.Store.MailQueueStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail still queued: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, email := range invitees {
		n := 0
		for _, m := range env.Mail.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(strings.Trim(to, "<>"), email) {
					n++
				}
			}
		}
		if n != 1 {
			t.Fatalf("%s received %d invitation mails, want 1", email, n)
		}
	}

	// Bob signs up through his link (the link points at the proxy).
	link := env.LinkIn("bob@example.com", "/invitations/")
	if !strings.HasPrefix(link, env.URL+"/invitations/") {
		t.Fatalf("link %s does not point at the proxy %s", link, env.URL)
	}
	bob := env.NewClient()
	wantStatus(t, bob.Get(env.Path(link)), http.StatusOK, `id="invite-signup"`)
	res := bob.Post(env.Path(link)+"/signup", url.Values{"name": {"Bob"}, "password": {webtest.Password}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("sign-up via link: %d\n%s", res.Status, res.Body)
	}
	if r := roleOf(t, env, org, "bob@example.com"); r != "member" {
		t.Fatalf("bob's role %q", r)
	}
	for i := 0; i < 2; i++ {
		wantStatus(t, bob.Get("/"), http.StatusOK, "Acme")
	}

	walkPurchase(t, cl)

	// Sign-out on one server ends the session on both.
	res = owner.Post("/logout", nil)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.Status)
	}
	for i := 0; i < 2; i++ {
		if res := owner.Get("/members"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") {
			t.Fatalf("after sign-out, request %d: %d %s", i, res.Status, res.Location)
		}
	}

	// Wrong passwords alternate between the servers: the fifth attempt is
	// refused (limit 4), not the ninth.
	c := env.NewClient()
	for i := 0; i < 4; i++ {
		if res := c.Post("/login", url.Values{"email": {"olive@example.com"}, "password": {"wrong-password"}}); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	if res := c.Post("/login", url.Values{"email": {"olive@example.com"}, "password": {webtest.Password}}); res.Status != http.StatusTooManyRequests {
		t.Fatalf("5th attempt across two servers: %d, want 429", res.Status)
	}

	for i := range cl.Servers {
		if n := cl.Hits[i].Load(); n < 10 {
			t.Fatalf("server %d answered only %d requests", i, n)
		}
	}
}

// walkPurchase tops a wallet up through one server and buys through the
// other, then replays the purchase's key on each: the first answer comes
// back and nothing moves twice; the same key for another package is 409 on
// either; the ledger holds. Each request's server is checked from the
// proxy's counters, not assumed.
func walkPurchase(t *testing.T, cl *webtest.Cluster) {
	t.Helper()
	env := cl.Env
	buyer, _ := env.SignUpAPI("pat@example.com", "Pat Payer")
	// on runs one request and reports which server answered it.
	on := func(do func() webtest.APIResponse) (webtest.APIResponse, int) {
		before := make([]int64, len(cl.Servers))
		for i := range cl.Servers {
			before[i] = cl.Hits[i].Load()
		}
		r := do()
		for i := range cl.Servers {
			if cl.Hits[i].Load() != before[i] {
				return r, i
			}
		}
		t.Fatal("no server answered")
		return r, -1
	}
	if r := buyer.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Shop", "slug": "shop"}); r.Status != 201 {
		t.Fatalf("create org: %s", r.Raw)
	}
	var pkgs []string
	for _, slug := range []string{"walk-a", "walk-b"} {
		r := buyer.Do(http.MethodPost, "/api/orgs/shop/packages", map[string]any{"slug": slug, "name": slug, "type": "skill",
			"price_cents": 700, "visibility": "private", "manifest": "name: " + slug})
		if r.Status != 201 {
			t.Fatalf("publish %s: %s", slug, r.Raw)
		}
		pkgs = append(pkgs, strconv.FormatInt(num(r.Data()["id"]), 10))
	}
	top, topSrv := on(func() webtest.APIResponse {
		return buyer.Do(http.MethodPost, "/api/orgs/shop/wallet/top-up", map[string]any{"amount_cents": 1000}, "Idempotency-Key", "walk-top")
	})
	if top.Status != 201 || num(top.Data()["balance_cents"]) != 1000 {
		t.Fatalf("top-up: %d %s", top.Status, top.Raw)
	}
	buy := func(pkg string) (webtest.APIResponse, int) {
		return on(func() webtest.APIResponse {
			return buyer.Do(http.MethodPost, "/api/packages/"+pkg+"/buy", map[string]any{"org": "shop"}, "Idempotency-Key", "walk-buy")
		})
	}
	first, buySrv := buy(pkgs[0])
	if buySrv == topSrv {
		t.Fatalf("top-up and buy both went to server %d", buySrv)
	}
	if first.Status != 201 || first.Data()["status"] != "completed" || num(first.Data()["purchase"].(map[string]any)["balance_after_cents"]) != 300 {
		t.Fatalf("buy: %d %s", first.Status, first.Raw)
	}
	seen := map[int]bool{buySrv: true}
	crossReplay := false
	for i := 0; i < 2; i++ {
		again, srv := buy(pkgs[0])
		seen[srv] = true
		crossReplay = crossReplay || srv != buySrv
		if again.Status != 201 || again.Raw != first.Raw {
			t.Fatalf("replay on server %d: %d %s, want the first answer %s", srv, again.Status, again.Raw, first.Raw)
		}
		other, srv := buy(pkgs[1])
		seen[srv] = true
		if other.Status != 409 || other.ErrorCode() != "idempotency_conflict" {
			t.Fatalf("same key, other package, on server %d: %d %s", srv, other.Status, other.Raw)
		}
	}
	if !crossReplay || len(seen) != len(cl.Servers) {
		t.Fatalf("the key was tried on servers %v only", seen)
	}
	var bal, purchases int64
	org := orgIDBySlug(t, env, "shop")
	if err := env.Store.DB().Get(&bal, `SELECT balance_cents FROM wallets WHERE org_id = $1`, org); err != nil || bal != 300 {
		t.Fatalf("balance %d (%v), want 300: charged once", bal, err)
	}
	if err := env.Store.DB().Get(&purchases, `SELECT count(*) FROM purchases WHERE org_id = $1`, org); err != nil || purchases != 1 {
		t.Fatalf("%d purchases (%v), want 1", purchases, err)
	}
	if err := env.Store.CheckLedger(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestKeptSessionsFollowChangesOnEitherServer: each server keeps a signed-in
// account's workspaces between pages (db/sessionkeep.go). A change made
// through one server shows on the very next page of either: a new role in
// the switcher, an org's new name, a removal. Both servers must have served
// pages from their copy along the way, or the walk would prove nothing.
func TestKeptSessionsFollowChangesOnEitherServer(t *testing.T) {
	cl, owner, _, bob, bobID := acmeOnTwoServers(t, "Bob Member", "member")
	// acme is Bob's switcher entry for the org ("" when it is not there).
	acme := func(body string) string {
		i := strings.Index(body, `data-slug="acme"`)
		if i < 0 {
			return ""
		}
		j := strings.Index(body[i:], "</button>")
		return body[i : i+j]
	}
	// twice: one page on each server (the proxy alternates).
	twice := func(step string, ok func(entry string) bool) {
		t.Helper()
		for i := 0; i < 2; i++ {
			res := bob.Get("/")
			if res.Status != http.StatusOK || !ok(acme(res.Body)) {
				t.Fatalf("%s, page %d: %d, switcher entry %q", step, i+1, res.Status, acme(res.Body))
			}
		}
	}
	hits := func() (n []int64) {
		for _, s := range cl.Servers {
			h, _ := s.Store.SessionKeepStats()
			n = append(n, h)
		}
		return n
	}
	twice("joined", func(e string) bool { return strings.Contains(e, ">Acme<") && strings.Contains(e, ">Member<") })
	twice("nothing changed", func(e string) bool { return strings.Contains(e, ">Member<") })
	if h := hits(); h[0] == 0 || h[1] == 0 {
		t.Fatalf("kept copies used %v times per server, want both", h)
	}

	wantStatus(t, owner.Post("/members/"+strconv.FormatInt(bobID, 10)+"/role", url.Values{"role": {"admin"}}), http.StatusSeeOther)
	twice("made admin", func(e string) bool { return strings.Contains(e, ">Admin<") })
	wantStatus(t, owner.Post("/settings", url.Values{"display_name": {"Acme Renamed"}, "slug": {"acme"}, "description": {""},
		"member_base_permission": {"none"}}), http.StatusSeeOther)
	twice("org renamed", func(e string) bool { return strings.Contains(e, ">Acme Renamed<") })
	before := hits()
	twice("nothing changed again", func(e string) bool { return strings.Contains(e, ">Acme Renamed<") })
	if h := hits(); h[0] <= before[0] || h[1] <= before[1] {
		t.Fatalf("unchanged pages not served from the copies: hits %v then %v", before, h)
	}
	wantStatus(t, owner.Post("/members/"+strconv.FormatInt(bobID, 10)+"/remove", nil), http.StatusSeeOther)
	twice("removed", func(e string) bool { return e == "" })
}

// TestPagesCarryTheirSessionCheckOnEitherServer: once a server has read a
// session in full, its next pages for that session carry the session check
// in their first statement instead of a round trip of its own
// (db/sessioncheck.go, web/sessiongate.go). A change made through the other
// server still shows on the very next page: a page made out of reach by a
// lower role answers as it does for that role, a sign-out sends the next
// page to sign-in, and nothing of the page the stale copy would have shown
// goes out.
func TestPagesCarryTheirSessionCheckOnEitherServer(t *testing.T) {
	cl, owner, org, bob, bobID := acmeOnTwoServers(t, "Bob Admin", "admin")
	env := cl.Env
	wantStatus(t, bob.Post("/workspace", url.Values{"org_id": {strconv.FormatInt(org, 10)}}), http.StatusSeeOther)

	standalone := func(qs []string) int {
		n := 0
		for _, q := range qs {
			if strings.HasPrefix(q, "SELECT s.account_id, s.last_seen_at") || strings.HasPrefix(q, "SELECT EXISTS (SELECT 1 FROM sessions") {
				n++
			}
		}
		return n
	}
	carried := func(qs []string) int {
		n := 0
		for _, q := range qs {
			if strings.HasPrefix(q, "SELECT * FROM ( ") {
				n++
			}
		}
		return n
	}
	// Each server reads the session in full at least once (here: after Bob
	// joined, which moved the versions either kept); from then on each
	// server's pages carry the check.
	for i := 0; i < 4; i++ {
		res, qs := bob.Queries("/audit")
		wantStatus(t, res, http.StatusOK, `id="audit-results"`)
		if i >= 2 && (standalone(qs) != 0 || carried(qs) != 1) {
			t.Errorf("page %d: %q, want the check carried in the first read and no statement of its own", i+1, qs)
		}
	}

	// Olive makes Bob a plain member through one server; his next page on
	// each server answers as it does for a member.
	wantStatus(t, owner.Post("/members/"+strconv.FormatInt(bobID, 10)+"/role", url.Values{"role": {"member"}}), http.StatusSeeOther)
	for i := 0; i < 2; i++ { // one page on each server: the proxy alternates
		res := bob.Get("/audit")
		if res.Status == http.StatusOK || strings.Contains(res.Body, `id="audit-results"`) {
			t.Fatalf("the audit log after the demotion, page %d: %d\n%s", i+1, res.Status, res.Body)
		}
	}
	for i := 0; i < 2; i++ {
		wantStatus(t, bob.Get("/"), http.StatusOK, ">Member<")
	}
	// Both servers read him again and carry the check again.
	for i := 0; i < 2; i++ {
		if res, qs := bob.Queries("/members"); res.Status != http.StatusOK || standalone(qs) != 0 || carried(qs) != 1 {
			t.Errorf("members page %d after the change was read: %d %q", i+1, res.Status, qs)
		}
	}

	// The package catalogue is public, yet a signed-in visitor's page
	// carries the check in its first read too (PublicRead).
	if _, err := env.Store.DB().Exec(`INSERT INTO packages (org_id, slug, name, type, price_cents, visibility)
		VALUES ($1, 'acme-tool', 'Acme tool', 'skill', 100, 'public')`, org); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		res, qs := bob.Queries("/packages")
		wantStatus(t, res, http.StatusOK, `data-slug="acme-tool"`, "bob@example.com")
		if i >= 2 && (standalone(qs) != 0 || carried(qs) != 1) {
			t.Errorf("catalogue page %d: %q, want the check carried in the first read and no statement of its own", i+1, qs)
		}
	}

	// Bob signs out through one server; the other's next page for the
	// cookie he had sends it to sign in, with nothing of the page.
	cookie := bob.HTTP.Jar.Cookies(mustURL(env.URL))
	wantStatus(t, bob.Post("/logout", nil), http.StatusSeeOther)
	replay := env.NewClient()
	replay.HTTP.Jar.SetCookies(mustURL(env.URL), cookie)
	for i := 0; i < 2; i++ {
		res := replay.Get("/members")
		if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Location, "/login") || strings.Contains(res.Body, "bob@example.com") {
			t.Fatalf("a signed-out cookie on server %d: %d %q\n%s", i+1, res.Status, res.Location, res.Body)
		}
		// The catalogue answers it as it answers anyone signed out.
		res = replay.Get("/packages")
		if res.Status != http.StatusOK || !strings.Contains(res.Body, `data-slug="acme-tool"`) || strings.Contains(res.Body, "bob@example.com") || !strings.Contains(res.Body, `href="/login`) {
			t.Fatalf("the catalogue for a signed-out cookie on server %d: %d\n%s", i+1, res.Status, res.Body)
		}
	}
}

// acmeOnTwoServers is two servers behind a round-robin proxy, Olive owning
// Acme, and Bob (bob@example.com, named name) in it with role, added
// straight to the table.
func acmeOnTwoServers(t *testing.T, name, role string) (cl *webtest.Cluster, owner *webtest.Client, org int64, bob *webtest.Client, bobID int64) {
	t.Helper()
	cl = webtest.NewCluster(t, 2, webtest.Options{})
	env := cl.Env
	owner = memberOrg(t, env, "olive@example.com", "Olive Owner", "Acme")
	org = orgIDBySlug(t, env, "acme")
	bob = env.SignUpVerified("bob@example.com", name)
	bobID = accountID(t, env, "bob@example.com")
	if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role, created_at) VALUES ($1, $2, $3, now())`, org, bobID, role); err != nil {
		t.Fatal(err)
	}
	return cl, owner, org, bob, bobID
}
