package web_test

// The harness of the security suite: the fixture worlds, the actors, how a
// route's path and body are filled in, and the digest that proves a refused
// request changed nothing. The declarations live in authz_matrix_test.go.

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pquerna/otp/totp"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/handlers"
	"guildhall/web"
	"guildhall/web/sso"
	"guildhall/web/sso/ssotest"
	"guildhall/web/webtest"
)

// actor is one caller of the matrix.
type actor int

const (
	owner    actor = iota // owner of org A
	admin                 // admin of A
	member                // member of A, in team T as a plain team member
	maint                 // member of A, maintainer of team T
	billing               // billing of A
	outsider              // signed in, in no org but their own; A invited them
	other                 // owner of org B, nothing in A
	nActors
	// anonymous is signed out (a session cookie without an account, so a
	// form's CSRF token is valid); not one of the signed-in actors looped over.
	anonymous = nActors
)

var actorNames = [nActors + 1]string{"owner", "admin", "member", "maintainer", "billing", "outsider", "other-org", "signed out"}

func (a actor) String() string { return actorNames[a] }

// inA reports whether the actor belongs to org A.
func (a actor) inA() bool { return a <= billing }

// who is a set of actors.
type who uint

func (w who) has(a actor) bool { return w&(1<<a) != 0 }

func (w who) String() string {
	var s []string
	for a := actor(0); a < nActors; a++ {
		if w.has(a) {
			s = append(s, a.String())
		}
	}
	return strings.Join(s, ",")
}

// world is one fixture: org A with every role, org B (another org with its
// own agents, teams, invitations, members), and the objects the routes name.
// Every account's email ends in @w<n>.test so the digest finds new ones.
type world struct {
	n                  int64
	acc                [nActors + 1]model.Account
	teamie, bMember    model.Account // non-actor targets: a team member of A, a member of B
	orgA, orgB         model.Workspace
	vars               map[string]string // own values; "<name>B" the other org's
	sessions           [nActors + 1]*http.Cookie
	csrf               [nActors + 1]string
	full, ro, boundTok [nActors + 1]string // bearer tokens: read+write; read only; read+write bound to the personal org
	spare              [nActors + 1]int64  // a token id per actor, for the revoke routes
	spareB             int64
	verify             [nActors + 1]string // a pending email-verification link token per actor
	// mine holds per-actor values of the actor's own objects ({session},
	// {passkey}); the cross variant reads "<name>B", one of B's member.
	mine [nActors + 1]map[string]string
}

// suite is the running server and what every sub-test shares.
type suite struct {
	t          *testing.T
	env        *webtest.Env
	routes     []web.Route
	digest     *sqlx.Stmt // the digest query, built from the schema
	digested   []string   // the tables it hashes, in the order of its parts
	seq        atomic.Int64
	client     *http.Client
	sharedOnce sync.Once
	shared     *world
	// counters for the summary line
	worlds, calls, digests atomic.Int64
	worldTime              atomic.Int64 // nanoseconds
	// The parties of single sign-on the fixture plays: a running OpenID
	// provider (the orgs' connections point to it, so a flow really starts)
	// and the DNS server that answers domain verification.
	op  *ssotest.OP
	dns *ssotest.DNS
}

// totpRaw is the authenticator secret of every fixture enrolment; {totp}
// is its current code.
var totpRaw = []byte("authz-suite-totp-key")

func newSuite(t *testing.T) *suite {
	dns := ssotest.StartDNS(t)
	env := webtest.New(t, webtest.Options{SignInLimit: 1 << 20, DNSResolver: dns.Addr})
	s := &suite{t: t, env: env, routes: env.Server.RouteTable(), op: ssotest.StartOP(t), dns: dns,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	q, tables := buildDigest(t, env.Store)
	s.digested = tables
	stmt, err := env.Store.DB().Preparex(q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stmt.Close() })
	s.digest = stmt
	return s
}

// buildDigest writes one query that hashes every row a world can reach:
// the rows of each table that names one of the world's orgs or accounts.
// It is generated from the schema so that tables other areas add (wallet,
// SSO, usage) are covered without touching this file. The audit log and the
// outbox are left out: refusals are audited, and mail is delivered in the
// background; so are the usage counts, which the meter flushes in the
// background. Columns that only record activity are left out too.
func buildDigest(t *testing.T, store *db.Store) (string, []string) {
	var cols []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
	}
	err := store.DB().Select(&cols, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	// session_versions only numbers changes to the rows digested here (and
	// moves with the volatile last_active_at too): migration 00016.
	// audit_actors is the audit log's index of its addresses (00018): a
	// refusal is recorded, and its actor listed there.
	skipTable := map[string]bool{"audit_events": true, "audit_actors": true, "outbox": true, "goose_db_version": true, "session_versions": true}
	volatile := map[string]bool{"last_seen_at": true, "last_used_at": true, "last_active_at": true}
	// A column names an org or an account by its name: org_id, *_org_id;
	// account_id, *_account_id, user_id, *_by.
	isOrg := func(c string) bool { return c == "org_id" || strings.HasSuffix(c, "_org_id") }
	isAcc := func(c string) bool {
		return c == "account_id" || c == "user_id" || strings.HasSuffix(c, "_account_id") || strings.HasSuffix(c, "_by")
	}
	byTable := map[string][]string{}
	var tables []string
	for _, c := range cols {
		// The usage tables are the meter's count of API requests (issue 11):
		// it counts refused requests too, by design, and flushes them in
		// the background, as the audit log records refusals.
		if skipTable[c.Table] || strings.HasPrefix(c.Table, "usage_") {
			continue
		}
		if _, ok := byTable[c.Table]; !ok {
			tables = append(tables, c.Table)
		}
		byTable[c.Table] = append(byTable[c.Table], c.Column)
	}
	sort.Strings(tables)
	var parts, skipped, digested []string
	for _, tb := range tables {
		var keep, where []string
		for _, c := range byTable[tb] {
			if !volatile[c] {
				keep = append(keep, fmt.Sprintf("%q::text", c))
			}
			switch {
			case isOrg(c):
				where = append(where, fmt.Sprintf("%q IN (SELECT id FROM o)", c))
			case isAcc(c):
				where = append(where, fmt.Sprintf("%q IN (SELECT id FROM acc)", c))
			}
		}
		switch tb {
		case "orgs":
			where = append(where, "id IN (SELECT id FROM o)")
		case "accounts":
			where = append(where, "id IN (SELECT id FROM acc)")
		}
		if len(where) == 0 {
			skipped = append(skipped, tb) // names neither an org nor an account: cannot be scoped to one world
			continue
		}
		digested = append(digested, tb)
		parts = append(parts, fmt.Sprintf(`(SELECT count(*)::text || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') FROM (SELECT concat_ws(',', %s) AS r FROM %q WHERE %s) x)`,
			strings.Join(keep, ", "), tb, strings.Join(where, " OR ")))
	}
	t.Logf("the digest leaves out tables naming no org or account: %s", strings.Join(skipped, ", "))
	return `WITH acc AS (SELECT id FROM accounts WHERE email LIKE $1),
		o AS (SELECT org_id AS id FROM memberships WHERE account_id IN (SELECT id FROM acc) UNION SELECT unnest($2::bigint[]))
		SELECT concat_ws(' ', ` + strings.Join(parts, ",\n") + `)`, digested
}

// changedTables names the tables whose part of two digests differs.
func (s *suite) changedTables(before, after string) string {
	b, a := strings.Split(before, " "), strings.Split(after, " ")
	var out []string
	for i := range b {
		if i < len(a) && i < len(s.digested) && a[i] != b[i] {
			out = append(out, s.digested[i])
		}
	}
	return strings.Join(out, ", ")
}

// digestOf hashes the world. orgsOnly narrows it to orgs A and B (for the
// page routes a non-member calls in their own personal workspace).
func (s *suite) digestOf(t testing.TB, w *world, orgsOnly bool) string {
	like := "%@w" + strconv.FormatInt(w.n, 10) + ".test"
	if orgsOnly {
		like = "-" // matches no account
	}
	s.digests.Add(1)
	var d string
	if err := s.digest.Get(&d, like, "{"+strconv.FormatInt(w.orgA.ID, 10)+","+strconv.FormatInt(w.orgB.ID, 10)+"}"); err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d
}

// newWorld builds a fixture with the store directly (fast: no pages).
// needs says which credentials a world carries.
// light skips org B and the tokens of the refusal tests: the worlds of
// allowed calls use neither.
// totp: a pending authenticator enrolment per actor; sessions: a second
// session per actor; passkeys: a passkey per actor (it turns two-factor on,
// so only the routes that need one get it); sso: an SSO connection, domains
// and setup links per org.
type needs struct{ pages, api, verify, spare, light, totp, sessions, passkeys, sso, wallet bool }

func needsOf(r web.Route) needs {
	p := r.Path
	return needs{pages: !strings.HasPrefix(p, "/api/"), api: strings.HasPrefix(p, "/api/"),
		verify: strings.HasPrefix(p, "/verify/"), spare: strings.Contains(p, "tokens/:id"),
		totp: strings.HasPrefix(p, "/profile/two-factor") || p == "/settings/two-factor", sessions: strings.HasPrefix(p, "/profile/sessions/"),
		passkeys: strings.Contains(p, "/passkeys/:id"),
		sso:      strings.Contains(p, "/sso") || strings.Contains(p, "/domains") || strings.HasPrefix(p, "/me/auto-join/"),
		wallet: strings.Contains(p, "/wallet") || strings.Contains(p, "/policies") || strings.Contains(p, "/approvals") ||
			strings.Contains(p, "/packages") || strings.Contains(p, "/entitlements")}
}

func (s *suite) newWorld(t testing.TB, nd needs) *world {
	ctx := context.Background()
	st := s.env.Store
	start := time.Now()
	defer func() { s.worlds.Add(1); s.worldTime.Add(int64(time.Since(start))) }()
	w := &world{n: s.seq.Add(1), vars: map[string]string{}}
	for a := range w.mine {
		w.mine[a] = map[string]string{}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	signup := func(name string) model.Account {
		// The name makes the personal org's slug: unique per world, so
		// worlds built in parallel do not race for one.
		a, err := st.Signup(ctx, model.Actor{}, db.SignupInput{Email: fmt.Sprintf("%s@w%d.test", name, w.n), Name: fmt.Sprintf("%s w%d", name, w.n), Password: webtest.Password, VerifiedEmail: true})
		must(err)
		return a
	}
	for a := actor(0); a < nActors; a++ {
		w.acc[a] = signup(strings.ReplaceAll(a.String(), "-", ""))
	}
	w.teamie = signup("teamie")
	if !nd.light {
		w.bMember = signup("bmember")
	}
	as := func(a model.Account) model.Actor {
		return model.Actor{AccountID: a.ID, Email: a.Email, IP: "127.0.0.1"}
	}
	var err error
	w.orgA, err = st.CreateOrg(ctx, as(w.acc[owner]), db.CreateOrgInput{DisplayName: fmt.Sprintf("Acme %d", w.n), Slug: fmt.Sprintf("acme-w%d", w.n)})
	must(err)
	if !nd.light {
		w.orgB, err = st.CreateOrg(ctx, as(w.acc[other]), db.CreateOrgInput{DisplayName: fmt.Sprintf("Bravo %d", w.n), Slug: fmt.Sprintf("bravo-w%d", w.n)})
		must(err)
	}
	join := func(org int64, a model.Account, role string) {
		_, err := st.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, org, a.ID, role)
		must(err)
	}
	join(w.orgA.ID, w.acc[admin], "admin")
	join(w.orgA.ID, w.acc[member], "member")
	join(w.orgA.ID, w.acc[maint], "member")
	join(w.orgA.ID, w.acc[billing], "billing")
	join(w.orgA.ID, w.teamie, "member")
	if !nd.light {
		join(w.orgB.ID, w.bMember, "member")
	}
	_, err = st.DB().Exec(`UPDATE orgs SET limit_team_members = 50, limit_agents = 50, limit_api_keys = 50 WHERE id = ANY($1::bigint[])`,
		fmt.Sprintf("{%d,%d}", w.orgA.ID, w.orgB.ID))
	must(err)

	// The same objects in both orgs: X for A, XB for B.
	build := func(suffix string, org model.Workspace, boss model.Account, teamMembers []model.Account, maintainer model.Account, invitee, transferee string) {
		b := as(boss)
		team, err := st.CreateTeam(ctx, b, org.ID, model.TeamInput{Name: "Secret team " + suffix + strconv.FormatInt(w.n, 10)})
		must(err)
		_, err = st.SetTeamMember(ctx, b, org.ID, team.ID, maintainer.ID, "maintainer")
		must(err)
		for _, m := range teamMembers {
			_, err = st.SetTeamMember(ctx, b, org.ID, team.ID, m.ID, "member")
			must(err)
		}
		agent, err := st.CreateAgent(ctx, b, org.ID, model.AgentInput{Name: "Secret agent " + suffix + strconv.FormatInt(w.n, 10)})
		must(err)
		grant, err := st.SetGrant(ctx, b, org.ID, team.ID, db.SetGrantInput{ResourceKind: "agent", ResourceID: agent.ID, Permission: "write"})
		must(err)
		moving, err := st.CreateAgent(ctx, b, org.ID, model.AgentInput{Name: "Moving agent"})
		must(err)
		transferLink, transfer, err := st.TransferAgent(ctx, b, moving.ID, transferee)
		must(err)
		inv, invLink, err := st.CreateInvitation(ctx, b, org.ID, invitee, "member")
		must(err)
		personal, err := st.CreateAgent(ctx, b, boss.PersonalOrgID, model.AgentInput{Name: "Personal agent"})
		must(err)
		for k, v := range map[string]int64{"team": team.ID, "agent": agent.ID, "grant": grant.ID, "agentT": moving.ID,
			"transfer": transfer.ID, "inv": inv.ID, "pagent": personal.ID, "orgID": org.ID} {
			w.vars[k+suffix] = strconv.FormatInt(v, 10)
		}
		w.vars["org"+suffix] = org.Slug
		w.vars["transferLink"+suffix] = transferLink
		w.vars["invLink"+suffix] = invLink
	}
	build("", w.orgA, w.acc[owner], []model.Account{w.acc[member], w.teamie}, w.acc[maint], w.acc[outsider].Email, w.acc[outsider].Email)
	if !nd.light {
		build("B", w.orgB, w.acc[other], []model.Account{w.bMember}, w.bMember, fmt.Sprintf("nobody@w%d.test", w.n), w.bMember.Email)
		// Objects of another org addressed to A's admin, for the org-bound token
		// test: invitations and transfers of other orgs are out of its reach.
		inv, link, err := st.CreateInvitation(ctx, as(w.acc[other]), w.orgB.ID, w.acc[admin].Email, "member")
		must(err)
		w.vars["invToAdminB"] = strconv.FormatInt(inv.ID, 10)
		w.vars["invLinkToAdminB"] = link
		ag, err := st.CreateAgent(ctx, as(w.acc[other]), w.orgB.ID, model.AgentInput{Name: fmt.Sprintf("Gift agent w%d", w.n)})
		must(err)
		_, tr, err := st.TransferAgent(ctx, as(w.acc[other]), ag.ID, w.acc[admin].Email)
		must(err)
		w.vars["transferToAdminB"] = strconv.FormatInt(tr.ID, 10)
	}
	w.vars["user"] = strconv.FormatInt(w.teamie.ID, 10)
	w.vars["userB"] = strconv.FormatInt(w.bMember.ID, 10)
	w.vars["adminID"] = strconv.FormatInt(w.acc[admin].ID, 10)
	w.vars["adminIDB"] = w.vars["userB"] // B's counterpart: a member of B
	w.vars["outsiderEmail"] = w.acc[outsider].Email
	w.vars["markerAgent"] = "Secret agent " + strconv.FormatInt(w.n, 10)
	w.vars["markerTeam"] = "Secret team " + strconv.FormatInt(w.n, 10)
	w.vars["markerGiftB"] = fmt.Sprintf("Gift agent w%d", w.n)
	w.vars["markerAgentB"] = "Secret agent B" + strconv.FormatInt(w.n, 10)
	w.vars["markerTeamB"] = "Secret team B" + strconv.FormatInt(w.n, 10)

	// Sessions or tokens for every actor, as the route needs.
	for a := actor(0); a < nActors; a++ {
		tok := func(name string, scopes []string, org *int64) (string, int64) {
			secret, tk, err := st.CreateToken(ctx, as(w.acc[a]), db.CreateTokenInput{Name: name, Scopes: scopes, OrgID: org})
			must(err)
			return secret, tk.ID
		}
		// Every scope but admin: buying and downloading check their own
		// scopes (SPEC 11), beyond write and read.
		if nd.api {
			w.full[a], _ = tok("full", []string{"read", "write", "purchase", "download"}, nil)
		}
		if nd.pages {
			sid, err := st.CreateSession(ctx, w.acc[a].ID, "127.0.0.1", "authz-suite")
			must(err)
			w.csrf[a], _ = db.NewSecret("")
			w.sessions[a] = s.env.Server.SessionCookie(sid, w.csrf[a], w.orgA.ID)
		}
		if nd.verify {
			w.verify[a], err = st.CreateEmailVerification(ctx, w.acc[a].ID)
			must(err)
		}
		if nd.spare {
			_, w.spare[a] = tok("spare", []string{"read"}, nil)
		}
		if nd.api && !nd.light && a == owner {
			// Read only: every scope that changes nothing (download reads a manifest).
			w.ro[a], _ = tok("read only", []string{"read", "download"}, nil)
		}
		if nd.api && !nd.light && a == admin {
			personal := w.acc[a].PersonalOrgID
			w.boundTok[a], _ = tok("bound", []string{"read", "write", "purchase", "download"}, &personal)
		}
	}
	if nd.verify {
		w.verify[anonymous], err = st.CreateEmailVerification(ctx, w.teamie.ID) // a link opened signed out
		must(err)
	}
	if nd.pages {
		w.csrf[anonymous], _ = db.NewSecret("")
		w.sessions[anonymous] = s.env.Server.SessionCookie("", w.csrf[anonymous], 0)
	}
	if nd.spare && !nd.light {
		_, bt, err := st.CreateToken(ctx, as(w.bMember), db.CreateTokenInput{Name: "spare", Scopes: []string{"read"}})
		must(err)
		w.spareB = bt.ID
	}
	s.securityFixtures(t, w, nd, as)
	if nd.wallet {
		s.walletFixtures(t, w, nd, as)
	}
	return w
}

// walletFixtures adds the objects of the wallet, policy, approval and
// package routes (issue 9), in A and (unless light) B: a funded wallet; a
// default policy and a second one ({policy}); an org-only paid package
// not owned yet ({package}); an org-only free package the org owns
// ({opackage}); a pending approval of {package} asked by a member
// ({approval}); and, in A only, a public package ({pubPackage}), which
// anyone may see, so it has no other-org counterpart. {porg} is the
// caller's personal workspace (a wallet transfer's target).
func (s *suite) walletFixtures(t testing.TB, w *world, nd needs, as func(model.Account) model.Actor) {
	ctx := context.Background()
	st := s.env.Store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for a := actor(0); a < nActors; a++ {
		w.mine[a]["porg"] = strconv.FormatInt(w.acc[a].PersonalOrgID, 10)
	}
	w.mine[anonymous]["porg"] = w.mine[owner]["porg"]
	org := func(suffix string, o model.Workspace, boss, buyer model.Account) {
		b := as(boss)
		_, _, err := st.TopUp(ctx, b, o.ID, 100000, "")
		must(err)
		yes, no := true, false
		name := func(s string) *string { return &s }
		_, err = st.CreatePolicy(ctx, b, o.ID, db.PolicyInput{Name: name("Default policy"), IsDefault: &yes})
		must(err)
		pol, err := st.CreatePolicy(ctx, b, o.ID, db.PolicyInput{Name: name("Fixture policy"), IsDefault: &no})
		must(err)
		pkg := func(kind, vis string, price int64) model.Package {
			slug := fmt.Sprintf("%s%s-w%d", kind, strings.ToLower(suffix), w.n)
			p, err := st.PublishPackage(ctx, b, o.ID, model.PackageInput{Slug: &slug, Name: name("Package " + slug), Type: name("skill"),
				Visibility: &vis, PriceCents: &price, Description: name("A fixture"), Manifest: name("manifest of " + slug)})
			must(err)
			return p
		}
		p := pkg("pkg", "org_only", 500)
		op := pkg("owned", "org_only", 0)
		_, _, err = st.Buy(ctx, b, db.BuyInput{OrgID: o.ID, PackageRef: strconv.FormatInt(op.ID, 10)})
		must(err)
		var ap int64
		must(st.DB().Get(&ap, `INSERT INTO approvals (org_id, package_id, requested_by, amount_cents, expires_at)
			VALUES ($1, $2, $3, $4, now() + interval '7 days') RETURNING id`, o.ID, p.ID, buyer.ID, p.PriceCents))
		for k, v := range map[string]int64{"policy": pol.ID, "package": p.ID, "opackage": op.ID, "approval": ap} {
			w.vars[k+suffix] = strconv.FormatInt(v, 10)
		}
		if suffix == "" {
			w.vars["pubPackage"] = strconv.FormatInt(pkg("pub", "public", 0).ID, 10)
		}
	}
	org("", w.orgA, w.acc[owner], w.acc[member])
	if !nd.light {
		org("B", w.orgB, w.acc[other], w.bMember)
	}
}

// securityFixtures adds the objects of the two-factor, session and SSO
// routes (issues 7 and 10) a world needs.
func (s *suite) securityFixtures(t testing.TB, w *world, nd needs, as func(model.Account) model.Actor) {
	ctx := context.Background()
	st := s.env.Store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// B's counterpart of a per-actor object belongs to B's member.
	people := func() []model.Account {
		var out []model.Account
		for a := actor(0); a < nActors; a++ {
			out = append(out, w.acc[a])
		}
		return out
	}
	if nd.totp {
		box := db.NewSecretBox(webtest.Secret)
		for _, acc := range people() {
			_, err := st.DB().Exec(`INSERT INTO two_factor_totp (account_id, secret_enc) VALUES ($1, $2)`, acc.ID, box.Seal(acc.ID, totpRaw))
			must(err)
		}
	}
	if nd.sessions {
		add := func(acc model.Account) string {
			sid, err := st.CreateSession(ctx, acc.ID, "10.0.0.9", "Other device")
			must(err)
			var id int64
			must(st.DB().Get(&id, `SELECT id FROM sessions WHERE id_hash = $1`, db.HashSecret(sid)))
			return strconv.FormatInt(id, 10)
		}
		for a := actor(0); a < nActors; a++ {
			w.mine[a]["session"] = add(w.acc[a])
		}
		w.mine[anonymous]["session"] = w.mine[owner]["session"] // the signed-out visitor is sent to sign in first
		if !nd.light {
			w.vars["sessionB"] = add(w.bMember)
		}
	}
	if nd.passkeys {
		add := func(acc model.Account) string {
			var id int64
			must(st.DB().Get(&id, `INSERT INTO webauthn_credentials (account_id, name, credential_id, data)
				VALUES ($1, 'Laptop', $2, '{}') RETURNING id`, acc.ID, []byte(fmt.Sprintf("cred-%d-w%d", acc.ID, w.n))))
			return strconv.FormatInt(id, 10)
		}
		for a := actor(0); a < nActors; a++ {
			w.mine[a]["passkey"] = add(w.acc[a])
		}
		w.mine[anonymous]["passkey"] = w.mine[owner]["passkey"]
		if !nd.light {
			w.vars["passkeyB"] = add(w.bMember)
		}
	}
	w.vars["opIssuer"] = s.op.Issuer()
	if !nd.sso {
		return
	}
	// Per org: a tested, enabled OIDC connection to the running provider;
	// a verified domain (A's is the fixture's email domain, with auto-join,
	// so the outsider and B's owner are offered A); a pending domain whose
	// TXT record DNS serves; a setup link; and an opened setup link's
	// session (the cookie of the browser that opened it).
	box := sso.NewBox(webtest.Secret)
	org := func(suffix string, o model.Workspace, boss model.Account, verified string) {
		b := as(boss)
		in, err := handlers.SaveInput(box, model.SSOConfig{Protocol: model.ProtocolOIDC, Issuer: s.op.Issuer(), ClientID: s.op.ClientID, ClientSecret: s.op.ClientSecret})
		must(err)
		_, err = st.SaveSSOConnection(ctx, b, o.ID, in)
		must(err)
		_, err = st.DB().Exec(`UPDATE sso_connections SET tested_config_hash = config_hash, tested_at = now() WHERE org_id = $1`, o.ID)
		must(err)
		d, err := st.AddDomain(ctx, b, o.ID, verified)
		must(err)
		_, err = st.DB().Exec(`UPDATE sso_domains SET verified_at = now(), auto_join = $2 WHERE id = $1`, d.ID, suffix == "")
		must(err)
		pd, err := st.AddDomain(ctx, b, o.ID, "pending-"+verified)
		must(err)
		s.dns.SetTXT(pd.Domain, pd.TXTRecord())
		secret, l, err := st.CreateSetupLink(ctx, b, o.ID)
		must(err)
		opened, _, err := st.CreateSetupLink(ctx, b, o.ID)
		must(err)
		session, _, err := st.OpenSetupLink(ctx, opened, "10.0.0.8")
		must(err)
		for k, v := range map[string]string{"domain": strconv.FormatInt(d.ID, 10), "pdomain": strconv.FormatInt(pd.ID, 10),
			"setupLink": strconv.FormatInt(l.ID, 10), "setupToken": secret, "setupSession": session} {
			w.vars[k+suffix] = v
		}
	}
	org("", w.orgA, w.acc[owner], fmt.Sprintf("w%d.test", w.n))
	if !nd.light {
		org("B", w.orgB, w.acc[other], fmt.Sprintf("bravo-w%d.test", w.n))
	}
}

// confirmTOTP turns the world's pending enrolments on: every actor then
// has two-factor sign-in (a prep for the routes that need it).
func confirmTOTP(s *suite, w *world) {
	s.env.Store.DB().MustExec(`UPDATE two_factor_totp SET confirmed_at = now() WHERE account_id IN (SELECT id FROM accounts WHERE email LIKE $1)`,
		"%@w"+strconv.FormatInt(w.n, 10)+".test")
}

// enforceSSO turns A's enforcement on: the password sessions of A's
// members at its verified domain lose A (owners keep it: break-glass).
func enforceSSO(s *suite, w *world) {
	s.env.Store.DB().MustExec(`UPDATE sso_connections SET enforced = true WHERE org_id = $1`, w.orgA.ID)
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// fill replaces {name} with the world's value for the actor; in the cross
// variant ids come from org B ({name} reads "nameB" when there is one).
func (w *world) fill(s string, a actor, cross bool) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		switch name {
		case "totp":
			code, err := totp.GenerateCode(base32NoPad(totpRaw), time.Now())
			if err != nil {
				panic(err)
			}
			return code
		case "me":
			return strconv.FormatInt(w.acc[a].ID, 10)
		case "verify":
			return w.verify[a]
		case "meEmail":
			if a == anonymous {
				return w.teamie.Email // signing in as someone
			}
			return w.acc[a].Email
		case "token":
			if cross {
				return strconv.FormatInt(w.spareB, 10)
			}
			return strconv.FormatInt(w.spare[a], 10)
		case "newEmail":
			return fmt.Sprintf("new%d@w%d.test", newSeq.Add(1), w.n)
		case "unique":
			return fmt.Sprintf("u%d-w%d", newSeq.Add(1), w.n)
		case "newSlug":
			return fmt.Sprintf("new-%d-w%d", newSeq.Add(1), w.n)
		}
		if cross {
			if v, ok := w.vars[name+"B"]; ok {
				return v
			}
		}
		if v, ok := w.mine[a][name]; ok {
			return v
		}
		if v, ok := w.vars[name]; ok {
			return v
		}
		panic("authz: unknown placeholder " + m)
	})
}

var newSeq atomic.Int64

// paramVar names the world value a path parameter takes by default.
func paramVar(path, name string) string {
	switch name {
	case "org":
		if strings.HasPrefix(path, "/me/") || strings.HasPrefix(path, "/sso/saml/") {
			return "orgID" // these name an org by its number
		}
		return "org"
	case "user_id":
		return "user"
	case "team_id":
		return "team"
	case "grant_id":
		return "grant"
	case "token":
		switch {
		case strings.HasPrefix(path, "/invitations/"):
			return "invLink"
		case strings.HasPrefix(path, "/agent-transfers/"):
			return "transferLink"
		case strings.HasPrefix(path, "/sso/setup/"):
			return "setupToken"
		}
	case "id":
		switch {
		case strings.Contains(path, "invitations/"):
			return "inv"
		case strings.HasPrefix(path, "/teams/"):
			return "team"
		case strings.HasPrefix(path, "/agents/"), strings.HasPrefix(path, "/api/agents/"):
			return "agent"
		case strings.Contains(path, "agent-transfers/"):
			return "transfer"
		case strings.Contains(path, "tokens/"):
			return "token"
		case strings.Contains(path, "/sessions/"):
			return "session"
		case strings.Contains(path, "/passkeys/"):
			return "passkey"
		case strings.Contains(path, "/setup-links/"):
			return "setupLink"
		case strings.Contains(path, "/domains/"):
			return "domain"
		case strings.Contains(path, "/policies/"):
			return "policy"
		case strings.Contains(path, "/approvals/"):
			return "approval"
		case strings.Contains(path, "/packages/"):
			return "package"
		}
	}
	return ""
}

// variant says whose ids a path takes.
type variant int

const (
	ownIDs   variant = iota
	crossIDs         // other ids from org B (under A's :org when the path has both)
	mixedIDs         // the first id A's, the later ones B's: /teams/{A's}/grants/{B's}
)

// pathFor fills a route's parameters and reports whether the variant
// changed any. With crossIDs a path naming both an org and other ids keeps
// the caller's org A and takes the other ids from B (an id of another org
// under one's own org); a path naming only the org takes org B. mixedIDs
// applies to paths with two ids or more besides the org.
func (w *world) pathFor(r web.Route, d decl, a actor, v variant) (string, bool) {
	segs := strings.Split(r.Path, "/")
	params := 0
	for _, sg := range segs {
		if strings.HasPrefix(sg, ":") {
			params++
		}
	}
	crossed, seenID := false, false
	for i, sg := range segs {
		if !strings.HasPrefix(sg, ":") {
			continue
		}
		name := sg[1:]
		tpl, ok := d.params[name]
		if !ok {
			pv := paramVar(r.Path, name)
			if pv == "" {
				panic(fmt.Sprintf("authz: %s %s: no default for :%s; declare params", r.Method, r.Path, name))
			}
			tpl = "{" + pv + "}"
		}
		var c bool
		switch v {
		case crossIDs:
			c = !(name == "org" && params > 1)
		case mixedIDs:
			c = name != "org" && seenID
		}
		if name != "org" {
			seenID = true
		}
		own := w.fill(tpl, a, false)
		val := own
		if c {
			val = w.fill(tpl, a, true)
			crossed = crossed || val != own
		}
		segs[i] = url.PathEscape(val)
	}
	p := strings.Join(segs, "/")
	if d.query != "" {
		p += "?" + w.fill(d.query, a, false)
	}
	return p, crossed
}

// res is one answer.
type res struct {
	status  int
	body    string
	loc     string
	cookies []*http.Cookie
}

// call sends the route as actor a: a page with the actor's session cookie
// and CSRF token, an API route with its bearer token.
func (s *suite) call(t testing.TB, w *world, r web.Route, d decl, a actor, path, bearer string, csrf csrfMode) res {
	var body io.Reader
	var ctype string
	isAPI := strings.HasPrefix(r.Path, "/api/")
	if isAPI {
		if d.body != "" {
			body, ctype = strings.NewReader(w.fill(d.body, a, false)), "application/json"
		}
	} else if r.Method != http.MethodGet {
		form, err := url.ParseQuery(w.fill(d.body, a, false))
		if err != nil {
			t.Fatalf("authz: body of %s %s: %v", r.Method, r.Path, err)
		}
		switch csrf {
		case csrfGood:
			form.Set("_csrf", w.csrf[a])
		case csrfWrong:
			form.Set("_csrf", "not-the-token")
		case csrfOtherSession:
			form.Set("_csrf", w.csrf[(a+1)%nActors])
		case csrfQuery:
			path += map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + "_csrf=" + url.QueryEscape(w.csrf[a])
		}
		body, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(r.Method, s.env.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range d.headers {
		req.Header.Set(k, w.fill(v, a, false))
	}
	if isAPI {
		if bearer != "" && r.Access == web.API {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
	} else {
		req.AddCookie(w.sessions[a])
		if csrf == csrfHeaderWrong {
			req.Header.Set("HX-Request", "true")
			req.Header.Set("X-CSRF-Token", "not-the-token")
		}
	}
	s.calls.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return res{status: resp.StatusCode, body: string(b), loc: resp.Header.Get("Location"), cookies: resp.Cookies()}
}

// flashError follows a redirect with the cookie it set and reports whether
// the page it leads to shows an error flash.
func (s *suite) flashError(t testing.TB, r res) bool {
	if r.loc == "" || len(r.cookies) == 0 || !strings.HasPrefix(r.loc, "/") {
		return false
	}
	req, _ := http.NewRequest(http.MethodGet, s.env.URL+r.loc, nil)
	for _, c := range r.cookies {
		req.AddCookie(c)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// The flash of a redirect is an alert; a page may also show standing
	// warnings in the same style (the settings page's delete blockers).
	return strings.Contains(string(b), `class="flash flash-error" role="alert"`)
}

type csrfMode int

const (
	csrfGood csrfMode = iota
	csrfNone
	csrfWrong
	csrfOtherSession
	csrfQuery
	csrfHeaderWrong
)

var csrfModeNames = map[csrfMode]string{csrfNone: "no token", csrfWrong: "wrong token", csrfOtherSession: "token of another session",
	csrfQuery: "token in the query string only", csrfHeaderWrong: "wrong X-CSRF-Token header"}

func isRefusal(status int) bool {
	return status == http.StatusForbidden || status == http.StatusNotFound
}

func ok2xx3xx(status int) bool { return status >= 200 && status < 400 }

func base32NoPad(b []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}
