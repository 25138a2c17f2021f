package web_test

// The authorization matrix: who may call each route of the route table
// (web/routes.go). TestSecuritySuite fails for any route without a line here
// and for any line without a route, so no route ships without saying who may
// call it. Run it alone with: go test ./web -run TestSecuritySuite -count=1
// (one route: -run 'TestSecuritySuite/POST_.api.orgs$', slashes become dots).
//
// HOW TO DECLARE A ROUTE: one line keyed "METHOD /path", exactly as in
// routes.go. Most lines need only allow, plus body for a write:
//
//	"POST /api/orgs/:org/policies": {allow: ownerAdmin, body: `{"name": "Limit {unique}"}`},
//	"GET /wallet":                  {allow: anyMember},
//
//   - allow: who may call it with ids of their own org (A): a rule below
//     (public, anyAccount, selfOnly, anyMember, canUse, teamManager,
//     ownerAdminBilling, ownerAdmin, ownerOnly, invitee, nobody) or
//     is(owner, billing, ...). The suite then checks every actor: an allowed
//     caller gets 2xx/3xx and, for a write, the database changes; everyone
//     else gets 403/404 (404 for a non-member on the API, and for another
//     org's ids when the caller could act on their own) and nothing changes;
//     the signed-out visitor is sent to sign in (401 on the API) unless the
//     rule is public; a read-only token gets 403 on every API write; a token
//     bound to another org is refused; every page POST refuses forged CSRF.
//   - body: the form of a page ("a=1&b=2") or the JSON of an API call, with
//     placeholders: {org} {orgID} {team} {agent} {agentT} (agent with a
//     pending transfer) {pagent} (the owner's personal agent) {grant} {inv}
//     {invLink} {transfer} {transferLink} {user} (a member of A, in team T)
//     {adminID} {me} {meEmail} {token} (a token of the caller's) {newEmail}
//     {newSlug} {unique}; for the security routes {session} {passkey} (the
//     caller's own; B's member's in the cross variant) {totp} (the current
//     code of every fixture enrolment) {domain} (verified; A's is the
//     fixture's email domain, with auto-join) {pdomain} (pending, its TXT
//     record served) {setupLink} {setupToken} {setupSession} (an opened
//     link's cookie) {opIssuer} (the running OpenID provider every fixture
//     connection uses); for the money routes {policy} (not the default)
//     {approval} (pending) {package} (org-only, paid, not owned) {opackage}
//     (org-only, owned) {pubPackage} (A's public one; no other-org twin)
//     {porg} (the caller's personal workspace). query and headers take them
//     too: a purchase or top-up sends "Idempotency-Key": "{unique}".
//   - params: a path parameter other than its default (paramVar in
//     authz_test.go maps :org, :user_id, :team_id, :grant_id, :id, :token by
//     path). A route naming a new kind of object (a policy, a package) needs
//     one made in each org: add it to build in newWorld (or to
//     securityFixtures, behind a needs flag) and to paramVar.
//   - noEffect: an allowed write that changes nothing the suite can see (a
//     cookie, an idempotent call). fresh: each allowed caller needs a world
//     of its own (the first call would stop the next: delete, cancel, a role
//     change). prep: a step before an allowed call. refuse: more statuses
//     that count as a refusal (409 for the last owner leaving). noCross: the
//     path holds a secret, not an id.
//   - bound (API): boundOK for reads of the caller's own things (the answer
//     must then name no org outside the token's binding); boundBody replaces
//     the body for that call.
//   - outside: what a successful allowed call needs that the fixture cannot
//     make (an identity provider's signed answer, an authenticator's
//     signature, a half-done sign-in in the cookie). Refusals, CSRF and
//     tokens are checked as usual; allowed callers must get a clean answer
//     (no 5xx) that changes nothing when refused. Name the test that runs
//     the real flow. noCSRF: a POST the route table serves without a
//     session (APIPublic) that another site posts to by design; say why.
//   - gap/gapFor, boundGap: a KNOWN bug, logged instead of failed, naming the
//     issue item that fixes it. The suite fails once the bug is gone, so the
//     flag is removed with the fix.
//
// The actors: owner, admin, member (in team T), maintainer (of team T) and
// billing of org A; outsider (signed in, no org, invited to A and offered A's
// moving agent); other-org (owner of org B, which holds the same kinds of
// objects); the signed-out visitor.

import (
	"fmt"
	"net/http"
)

var sprintf = fmt.Sprintf

func is(actors ...actor) who {
	var w who
	for _, a := range actors {
		w |= 1 << a
	}
	return w
}

// The rules.
var (
	//lint:ignore U1000 a rule the header offers (routes merged later use it)
	nobody            = who(0)
	ownerOnly         = is(owner)
	ownerAdmin        = is(owner, admin)
	ownerAdminBilling = is(owner, admin, billing)
	teamManager       = is(owner, admin, maint)                  // SPEC 2: manage a team's members and grants
	canUse            = is(owner, admin, member, maint)          // create and use resources: not billing
	anyMember         = is(owner, admin, member, maint, billing) // see the org
	anyAccount        = anyMember | is(outsider, other)          // account-level routes
	public            = anyAccount | is(anonymous)               // also signed out
	invitee           = is(outsider)                             // the addressee of an invitation or transfer
	selfOnly          = anyAccount                               // on the caller's own object ({token}); another's is 404
)

type boundRule int

const (
	boundRefused boundRule = iota // an org-bound token is refused (403/404) and changes nothing
	boundOK                       // allowed, and the answer names no org outside the binding
	boundSkip                     // not asserted (see the comment on the route)
)

type decl struct {
	allow        who
	body         string
	params       map[string]string
	query        string
	headers      map[string]string
	noEffect     bool
	getChanges   bool // a GET that changes state by design (an emailed link)
	noCross      bool // the parameters are secrets, not ids: no cross-org variant
	fresh        bool // each allowed caller needs a world of its own (the first call would stop the next)
	redirectOnly bool // every allowed caller is only redirected (3xx) and nothing changes
	refuse       []int
	crossRefuse  []int // statuses that count as a refusal of another org's ids (besides 404)
	prep         func(s *suite, w *world)
	bound        boundRule
	boundBody    string
	boundGap     string
	gap          string
	gapFor       who
	outside      string // what success needs that the fixture cannot make (see the header)
	noCSRF       string // why a session-less POST takes no CSRF token
}

func (d decl) refusedWith(status int) bool {
	for _, s := range d.refuse {
		if s == status {
			return true
		}
	}
	return false
}

func p(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// emptyOrgA removes A's agents so that deleting A is possible (SPEC 4).
func emptyOrgA(s *suite, w *world) {
	s.env.Store.DB().MustExec(`DELETE FROM agents WHERE org_id = $1`, w.orgA.ID)
}

// spec6: "adding someone who is not an org member is a validation error"
// (SPEC 6), for any id, so it tells nothing of another org. A form gets it
// as a redirect to a page with the error (counted as 403), the API as 422.
var spec6 = []int{http.StatusForbidden, http.StatusUnprocessableEntity}

const (
	signupForm = "email={newEmail}&name=New+Person&password=correct-horse-battery"
)

var authzMatrix = map[string]decl{
	// --- accounts, workspaces, settings, audit ---
	"GET /signup":            {allow: public},
	"POST /signup":           {allow: public, body: signupForm},
	"GET /login":             {allow: public},
	"POST /login":            {allow: public, body: "email={meEmail}&password=correct-horse-battery"},
	"GET /logout":            {allow: public},
	"POST /logout":           {allow: public},
	"GET /verify/:token":     {allow: public, params: p("token", "{verify}"), getChanges: true, noCross: true},
	"POST /verify/resend":    {allow: anyAccount, noEffect: true}, // every fixture account is verified already
	"GET /profile":           {allow: anyAccount},
	"POST /profile":          {allow: anyAccount, body: "name=Renamed+Person"},
	"POST /profile/password": {allow: anyAccount, body: "current_password=correct-horse-battery&new_password=another-horse-battery"},
	"POST /profile/email":    {allow: anyAccount, body: "new_email={newEmail}&password=correct-horse-battery"}, // the caller's own account: a pending change, confirmed by the link mailed to the new address
	"GET /":                  {allow: anyAccount},
	"GET /orgs/new":          {allow: anyAccount},
	"POST /orgs":             {allow: anyAccount, body: "display_name=New+Org&slug={newSlug}"},
	"POST /workspace":        {allow: anyMember, body: "org_id={orgID}", noEffect: true}, // the session cookie only
	"GET /settings":          {allow: anyMember},                                         // read only for those who may not edit
	"POST /settings":         {fresh: true, allow: ownerAdmin, body: "display_name=Renamed&slug={org}&description=changed&member_base_permission=read"},
	"POST /settings/delete":  {allow: ownerOnly, body: "confirm={org}", prep: emptyOrgA},
	"GET /audit":             {allow: ownerAdmin},
	"GET /audit/export":      {allow: ownerAdmin, query: "format=csv"},

	"POST /api/auth/signup":           {allow: public, body: `{"email": "{newEmail}", "name": "New Person", "password": "correct-horse-battery"}`},
	"POST /api/auth/token":            {allow: public, body: `{"email": "{meEmail}", "password": "correct-horse-battery"}`},
	"GET /api/me":                     {allow: anyAccount, bound: boundOK},
	"GET /api/orgs":                   {allow: anyAccount, bound: boundOK},
	"POST /api/orgs":                  {allow: anyAccount, body: `{"display_name": "New Org", "slug": "{newSlug}"}`},
	"GET /api/orgs/:org":              {allow: anyMember},
	"PATCH /api/orgs/:org":            {fresh: true, allow: ownerAdmin, body: `{"description": "changed"}`},
	"DELETE /api/orgs/:org":           {allow: ownerOnly, prep: emptyOrgA},
	"GET /api/orgs/:org/audit":        {allow: ownerAdmin},
	"GET /api/orgs/:org/audit/export": {allow: ownerAdmin, query: "format=csv"},

	// --- members and invitations ---
	"GET /members":                         {allow: anyMember},
	"GET /members/leave":                   {allow: anyMember},
	"POST /members/leave":                  {allow: is(admin, member, maint, billing), refuse: []int{409}}, // the last owner never leaves
	"POST /members/invitations":            {allow: ownerAdmin, body: "email={newEmail}&role=member"},
	"POST /members/invitations/:id/resend": {allow: ownerAdmin},
	"POST /members/invitations/:id/cancel": {fresh: true, allow: ownerAdmin},
	"GET /members/:user_id/role":           {allow: ownerAdmin},
	"POST /members/:user_id/role":          {fresh: true, allow: ownerAdmin, body: "role=billing"},
	"GET /members/:user_id/remove":         {allow: ownerAdmin},
	"POST /members/:user_id/remove":        {fresh: true, allow: ownerAdmin},
	"GET /members/:user_id/transfer":       {allow: ownerOnly},
	"POST /members/:user_id/transfer":      {allow: ownerOnly},
	"GET /invitations/:token":              {allow: public, noCross: true},
	"POST /invitations/:token/accept":      {allow: invitee, noCross: true, refuse: []int{403, 409}},
	"POST /invitations/:token/decline":     {allow: invitee, noCross: true, refuse: []int{403, 409}},
	"POST /invitations/:token/signup":      {allow: public, noCross: true, redirectOnly: true}, // for the signed out: anyone signed in is sent back to the link page
	"POST /me/invitations/:id/accept":      {allow: invitee},
	"POST /me/invitations/:id/decline":     {allow: invitee},

	"GET /api/orgs/:org/members":                 {allow: anyMember},
	"PATCH /api/orgs/:org/members/:user_id":      {fresh: true, allow: ownerAdmin, body: `{"role": "billing"}`},
	"DELETE /api/orgs/:org/members/:user_id":     {fresh: true, allow: ownerAdmin},
	"POST /api/orgs/:org/transfer-ownership":     {allow: ownerOnly, body: `{"user_id": {user}}`},
	"POST /api/orgs/:org/invitations":            {allow: ownerAdmin, body: `{"email": "{newEmail}", "role": "member"}`},
	"GET /api/orgs/:org/invitations":             {allow: ownerAdmin},
	"POST /api/orgs/:org/invitations/:id/resend": {allow: ownerAdmin},
	"DELETE /api/orgs/:org/invitations/:id":      {fresh: true, allow: ownerAdmin},
	"GET /api/me/org-invitations":                {allow: anyAccount, bound: boundOK},
	"POST /api/me/org-invitations/:id/accept":    {allow: invitee},
	"POST /api/me/org-invitations/:id/decline":   {allow: invitee},
	"POST /api/invitations/accept":               {allow: invitee, body: `{"token": "{invLink}"}`, boundBody: `{"token": "{invLinkToAdminB}"}`, noCross: true, refuse: []int{403, 409}},

	// --- teams, agents and grants ---
	"GET /teams":                              {allow: anyMember},
	"POST /teams":                             {allow: ownerAdmin, body: "name=Team+{newSlug}"},
	"GET /teams/:id":                          {allow: anyMember},
	"POST /teams/:id":                         {fresh: true, allow: teamManager, body: "name=Renamed+team&description=changed"},
	"POST /teams/:id/delete":                  {fresh: true, allow: ownerAdmin},
	"POST /teams/:id/members":                 {fresh: true, allow: teamManager, body: "user_id={adminID}&role=member"},
	"POST /teams/:id/members/:user_id/role":   {fresh: true, allow: teamManager, body: "role=maintainer", crossRefuse: spec6},
	"POST /teams/:id/members/:user_id/remove": {fresh: true, allow: teamManager},
	"POST /teams/:id/grants":                  {fresh: true, allow: teamManager, body: "resource_kind=agent&resource_id={agent}&permission=read"},
	"POST /teams/:id/grants/:grant_id":        {fresh: true, allow: teamManager, body: "permission=read"},
	"POST /teams/:id/grants/:grant_id/remove": {fresh: true, allow: teamManager},
	"GET /agents":                             {allow: anyMember},
	"POST /agents":                            {allow: canUse, body: "name=New+agent"},
	"GET /agents/:id":                         {allow: anyMember},
	"POST /agents/:id":                        {fresh: true, allow: canUse, body: "name=Renamed+agent"},
	"GET /agents/:id/access":                  {allow: anyMember, query: "user_id={user}"},
	"POST /agents/:id/delete":                 {fresh: true, allow: ownerAdmin},
	"POST /agents/:id/move":                   {allow: ownerOnly, params: p("id", "{pagent}"), body: "org_id={orgID}"},
	"POST /agents/:id/transfer":               {fresh: true, allow: ownerAdmin, body: "email={newEmail}"},
	"POST /agents/:id/transfer/cancel":        {fresh: true, allow: ownerAdmin, params: p("id", "{agentT}")},
	"GET /agent-transfers/:token":             {allow: public, noCross: true},
	"POST /agent-transfers/:token/accept":     {allow: invitee, noCross: true, refuse: []int{403, 409}},
	"POST /agent-transfers/:token/decline":    {allow: invitee, noCross: true, refuse: []int{403, 409}},
	"POST /me/agent-transfers/:id/accept":     {allow: invitee},
	"POST /me/agent-transfers/:id/decline":    {allow: invitee},

	"POST /api/orgs/:org/teams":                             {allow: ownerAdmin, body: `{"name": "Team {newSlug}"}`},
	"GET /api/orgs/:org/teams":                              {allow: anyMember},
	"GET /api/orgs/:org/teams/:team_id":                     {allow: anyMember},
	"GET /api/orgs/:org/teams/:team_id/members":             {allow: anyMember},
	"PATCH /api/orgs/:org/teams/:team_id":                   {fresh: true, allow: teamManager, body: `{"description": "changed"}`},
	"DELETE /api/orgs/:org/teams/:team_id":                  {fresh: true, allow: ownerAdmin},
	"PUT /api/orgs/:org/teams/:team_id/members/:user_id":    {fresh: true, allow: teamManager, params: p("user_id", "{adminID}"), body: `{"role": "member"}`, crossRefuse: spec6},
	"DELETE /api/orgs/:org/teams/:team_id/members/:user_id": {fresh: true, allow: teamManager},
	"PUT /api/orgs/:org/teams/:team_id/grants":              {fresh: true, allow: teamManager, body: `{"resource_kind": "agent", "resource_id": {agent}, "permission": "read"}`},
	"DELETE /api/orgs/:org/teams/:team_id/grants/:grant_id": {fresh: true, allow: teamManager},
	"GET /api/orgs/:org/resources":                          {allow: teamManager, query: "kind=agent"}, // a maintainer sees what they may grant
	"POST /api/agents":                                      {allow: canUse, body: `{"name": "New agent", "org": "{org}"}`},
	"GET /api/agents":                                       {allow: anyAccount, bound: boundOK},
	"GET /api/agents/:id":                                   {allow: anyMember},
	"PATCH /api/agents/:id":                                 {fresh: true, allow: canUse, body: `{"name": "Renamed agent"}`},
	"DELETE /api/agents/:id":                                {fresh: true, allow: ownerAdmin},
	"GET /api/agents/:id/access":                            {allow: anyMember, query: "user_id={user}"},
	"POST /api/agents/:id/move-to-org":                      {allow: ownerOnly, params: p("id", "{pagent}"), body: `{"org_id": {orgID}}`},
	"POST /api/agents/:id/transfer":                         {fresh: true, allow: ownerAdmin, body: `{"email": "{newEmail}"}`},
	"GET /api/me/agent-transfers":                           {allow: anyAccount, bound: boundOK}, // issue 7 item 4: a bound token lists only its own org's transfers
	"POST /api/me/agent-transfers/:id/accept":               {allow: invitee},                    // issue 7 item 4: no bound token accepts (not even one bound to the personal org)
	"POST /api/me/agent-transfers/:id/decline":              {allow: invitee},

	// --- API tokens ---
	"GET /tokens":               {allow: anyAccount},
	"POST /tokens":              {allow: anyAccount, body: "name=Script&scopes=read"},
	"POST /tokens/:id/revoke":   {allow: selfOnly},
	"GET /api/me/tokens":        {allow: anyAccount, bound: boundOK},
	"POST /api/me/tokens":       {allow: anyAccount, body: `{"name": "Script", "scopes": ["read"]}`, boundBody: `{"name": "Script", "scopes": ["read"], "org": "{org}"}`}, // a bound token mints tokens for its own org only
	"DELETE /api/me/tokens/:id": {allow: selfOnly, bound: boundSkip},                                                                                                      // SPEC is silent on a bound token revoking the account's other tokens

	// --- two-factor, sessions, passkeys (issue 7 items 6-7) ---
	"GET /login/2fa":                          {allow: public}, // the second step of a pending sign-in; without one, back to /login (the signed in, to /)
	"POST /login/2fa":                         {allow: public, outside: "a pending sign-in (the password step, kept in the cookie session): TestTwoFactorEnrolAndSignIn"},
	"POST /login/2fa/cancel":                  {allow: public, noEffect: true}, // drops the pending sign-in from the cookie session only
	"POST /login/2fa/passkey/options":         {allow: public, outside: "a pending sign-in of an account with a passkey"},
	"POST /login/2fa/passkey":                 {allow: public, outside: "a pending sign-in and an authenticator's signed assertion"},
	"POST /profile/two-factor":                {allow: anyAccount},                      // (re)starts the caller's own enrolment
	"GET /profile/two-factor":                 {allow: anyAccount},                      // the caller's own pending enrolment
	"GET /profile/two-factor/qr.png":          {allow: anyAccount},                      // the caller's own pending enrolment
	"POST /profile/two-factor/confirm":        {allow: anyAccount, body: "code={totp}"}, // the current code of the caller's own enrolment
	"POST /profile/two-factor/recovery-codes": {allow: anyAccount, body: "code={totp}", prep: confirmTOTP},
	"POST /profile/two-factor/disable":        {allow: anyAccount, body: "password=correct-horse-battery", prep: confirmTOTP},
	"POST /profile/sessions/:id/revoke":       {allow: selfOnly},                                                                    // the caller's other session; another account's is not found
	"POST /profile/sessions/revoke-others":    {allow: anyAccount},                                                                  // the caller's own other sessions
	"POST /settings/two-factor":               {fresh: true, allow: ownerAdmin, body: "require_two_factor=true", prep: confirmTOTP}, // SPEC 2 (change the org); needs the actor's own second factor
	"POST /profile/passkeys/options":          {allow: anyAccount, noEffect: true},                                                  // the challenge is kept in the cookie session only
	"POST /profile/passkeys":                  {allow: anyAccount, outside: "an authenticator's signed attestation of the challenge"},
	"POST /profile/passkeys/:id/remove":       {allow: selfOnly}, // the caller's own passkey; another account's is not found

	// --- single sign-on (issue 10; SPEC 2 and 13: owners change it, admins see it) ---
	"GET /sso":                         {allow: anyMember}, // members and billing get only a notice, never the status (TestSSOAPI checks the roles)
	"POST /sso/connection":             {allow: ownerOnly, body: "protocol=oidc&issuer={opIssuer}&client_id={unique}&client_secret=another-secret"},
	"POST /sso/test":                   {allow: ownerOnly}, // starts a test sign-in at the fixture's OpenID provider
	"POST /sso/enforce":                {allow: ownerOnly, body: "enforced=true"},
	"POST /sso/enabled":                {allow: ownerOnly, body: "enabled=false"},
	"POST /sso/idp-initiated":          {allow: ownerOnly, body: "on=true"},
	"POST /sso/setup-links":            {allow: ownerOnly},
	"POST /sso/setup-links/:id/revoke": {allow: ownerOnly},
	"POST /sso/domains":                {allow: ownerOnly, body: "domain={unique}.example"},
	"POST /sso/domains/:id/verify":     {allow: ownerOnly, params: p("id", "{pdomain}")}, // the pending domain, whose TXT record the fixture's DNS serves
	"POST /sso/domains/:id/auto-join":  {allow: ownerOnly, body: "auto_join=false"},
	"POST /sso/domains/:id/delete":     {allow: ownerOnly},
	"POST /me/auto-join/:org/accept":   {allow: is(outsider, other), refuse: []int{409}},                             // A's verified domain is the fixture's email domain: those not in A are offered it; a member already is one
	"POST /me/auto-join/:org/dismiss":  {allow: anyAccount, redirectOnly: true, noCross: true},                       // stores nothing and answers alike for any number, so it tells nothing
	"POST /me/sso/:org/signin":         {allow: is(admin, member, maint, billing), prep: enforceSSO, noEffect: true}, // only a password session A's enforcement shut out (owners keep A: break-glass); its page moves the browser on to /sso/start
	"POST /me/sso/:org/dismiss":        {allow: anyAccount, redirectOnly: true, noCross: true},                       // stores nothing and answers alike for any number, so it tells nothing
	"GET /login/sso":                   {allow: public},
	"POST /login/sso":                  {allow: public, body: "org={org}"},                    // starts a sign-in at A's provider
	"GET /sso/start":                   {allow: public, query: "org={org}", getChanges: true}, // the email-first step of /login: a GET that starts a sign-in at A's provider
	"GET /sso/oidc/callback":           {allow: public, outside: "the provider's answer to a sign-in this browser started: TestSSOSignInJITAndLinking"},
	"GET /sso/setup":                   {allow: public, headers: map[string]string{"Cookie": "guildhall_sso_setup={setupSession}"}}, // the setup session's cookie is the credential (SPEC 13: an IT admin without an account)
	"GET /sso/setup/:token":            {allow: public, noCross: true},                                                              // only asks: opening consumes
	"POST /sso/setup/:token":           {allow: public, noCross: true, fresh: true},                                                 // single use: each caller needs its own link
	"POST /sso/setup/connection":       {allow: public, headers: map[string]string{"Cookie": "guildhall_sso_setup={setupSession}"}, body: "protocol=oidc&issuer={opIssuer}&client_id={unique}&client_secret=another-secret"},
	"POST /sso/setup/test":             {allow: public, headers: map[string]string{"Cookie": "guildhall_sso_setup={setupSession}"}},
	"GET /sso/saml/:org/metadata":      {allow: public, noCross: true}, // the service provider's metadata of any team org is public by design
	"POST /sso/saml/:org/acs":          {allow: public, noCross: true, outside: "an identity provider's signed SAML response: TestSSOSAML", noCSRF: "the identity provider posts here from its own site (SPEC 13); the response's signature, audience and InResponseTo are the check"},
	"GET /sso/saml/complete":           {allow: public, outside: "a verified SAML response of a sign-in this browser started: TestSSOSAML"},

	"GET /api/orgs/:org/sso":                    {allow: ownerAdmin},
	"PUT /api/orgs/:org/sso":                    {allow: ownerOnly, body: `{"protocol": "oidc", "issuer": "{opIssuer}", "client_id": "{unique}", "client_secret": "another-secret"}`},
	"POST /api/orgs/:org/sso/setup-links":       {allow: ownerOnly},
	"DELETE /api/orgs/:org/sso/setup-links/:id": {allow: ownerOnly},
	"POST /api/orgs/:org/sso/enforce":           {allow: ownerOnly, body: `{"enforced": true}`},
	"GET /api/orgs/:org/domains":                {allow: ownerAdmin},
	"POST /api/orgs/:org/domains":               {allow: ownerOnly, body: `{"domain": "{unique}.example"}`},
	"POST /api/orgs/:org/domains/:id/verify":    {allow: ownerOnly, params: p("id", "{pdomain}")},
	"PATCH /api/orgs/:org/domains/:id":          {allow: ownerOnly, body: `{"auto_join": false}`},
	"DELETE /api/orgs/:org/domains/:id":         {allow: ownerOnly},

	// --- wallet, policies, approvals, packages (issue 9; SPEC 2, 8-10) ---
	// The fixtures (walletFixtures): a funded wallet per org; {policy} (not
	// the default); {package} (org-only, paid, not owned); {opackage}
	// (org-only, owned); {approval} (pending, asked by a member);
	// {pubPackage} (A's public package); {porg} (the caller's personal
	// workspace). Another org's org-only package is not found (SPEC 10).
	"GET /wallet":                 {allow: anyMember}, // the balance for all; transactions only for those who may (TestWalletPages)
	"POST /wallet/top-up":         {allow: ownerAdminBilling, body: "amount=5&idempotency_key={unique}"},
	"POST /wallet/auto-top-up":    {fresh: true, allow: ownerAdminBilling, body: "enabled=true&threshold=5&top_up_amount=20"},
	"POST /wallet/transfer":       {allow: ownerOnly, body: "to_org={porg}&amount=1&idempotency_key={unique}"}, // SPEC 8: to another workspace the caller owns
	"GET /wallet/export.csv":      {allow: ownerAdminBilling},
	"GET /policies":               {allow: anyMember}, // SPEC 2: every member sees the policies
	"POST /policies":              {allow: ownerAdmin, body: "name=Limit+{unique}&active=true"},
	"POST /policies/:id":          {allow: ownerAdmin, body: "name=Renamed+{unique}&active=true"},
	"POST /policies/:id/default":  {fresh: true, allow: ownerAdmin},
	"POST /policies/:id/delete":   {fresh: true, allow: ownerAdmin},
	"GET /approvals":              {allow: anyMember}, // the queue for owners and admins; others see their own requests only
	"POST /approvals/:id/approve": {fresh: true, allow: ownerAdmin},
	"POST /approvals/:id/reject":  {fresh: true, allow: ownerAdmin, body: "reason=Not+now"},
	"GET /packages":               {allow: public}, // public packages even signed out
	"GET /packages/new":           {allow: ownerAdmin},
	"POST /packages":              {allow: ownerAdmin, body: "slug={unique}&name=Package+{unique}&type=skill&visibility=org_only&price=0&description=new&manifest=hello"},
	"GET /packages/:id":           {allow: public, params: p("id", "{pubPackage}")},               // a public package: anyone, even signed out (invisible ones are 404: the routes below, with B's ids)
	"POST /packages/:id/buy":      {fresh: true, allow: canUse, body: "idempotency_key={unique}"}, // SPEC 2: not billing; bought once, so each caller needs a world
	"GET /packages/:id/manifest":  {allow: canUse, params: p("id", "{opackage}")},                 // SPEC 10: an entitlement (billing has none) or the publisher (A's owners and admins)
	"GET /packages/:id/edit":      {allow: ownerAdmin},
	"POST /packages/:id/edit":     {allow: ownerAdmin, body: "name=Renamed+{unique}&type=skill&visibility=org_only&price=5&description=changed&manifest=hello"},
	"GET /entitlements":           {allow: anyMember},

	"GET /api/orgs/:org/wallet":                 {allow: anyMember}, // the balance; auto top-up only for those who manage the wallet
	"POST /api/orgs/:org/wallet/top-up":         {allow: ownerAdminBilling, body: `{"amount_cents": 500}`, headers: map[string]string{"Idempotency-Key": "{unique}"}},
	"PATCH /api/orgs/:org/wallet/auto-top-up":   {fresh: true, allow: ownerAdminBilling, body: `{"enabled": true, "threshold_cents": 500, "top_up_amount_cents": 2000}`},
	"GET /api/orgs/:org/wallet/transactions":    {allow: ownerAdminBilling},
	"POST /api/orgs/:org/wallet/transfer":       {allow: ownerOnly, body: `{"to_org": {porg}, "amount_cents": 100}`, headers: map[string]string{"Idempotency-Key": "{unique}"}},
	"POST /api/orgs/:org/policies":              {allow: ownerAdmin, body: `{"name": "Limit {unique}"}`},
	"GET /api/orgs/:org/policies":               {allow: anyMember},
	"GET /api/orgs/:org/policies/:id":           {allow: anyMember},
	"PATCH /api/orgs/:org/policies/:id":         {allow: ownerAdmin, body: `{"name": "Renamed {unique}"}`},
	"DELETE /api/orgs/:org/policies/:id":        {fresh: true, allow: ownerAdmin},
	"GET /api/orgs/:org/approvals":              {allow: anyMember},
	"POST /api/orgs/:org/approvals/:id/approve": {fresh: true, allow: ownerAdmin, body: `{}`},
	"POST /api/orgs/:org/approvals/:id/reject":  {fresh: true, allow: ownerAdmin, body: `{"reason": "Not now"}`},
	"GET /api/packages":                         {allow: public}, // served without a token: the public catalogue
	"GET /api/packages/:id":                     {allow: public, params: p("id", "{pubPackage}")},
	"POST /api/orgs/:org/packages":              {allow: ownerAdmin, body: `{"slug": "{unique}", "name": "Package {unique}", "type": "skill", "visibility": "org_only", "price_cents": 0, "manifest": "hello"}`},
	"PATCH /api/orgs/:org/packages/:id":         {allow: ownerAdmin, body: `{"name": "Renamed {unique}"}`},
	"POST /api/packages/:id/buy":                {fresh: true, allow: canUse, body: `{"org": "{org}"}`, headers: map[string]string{"Idempotency-Key": "{unique}"}},
	"GET /api/orgs/:org/entitlements":           {allow: anyMember},
	"GET /api/packages/:id/download":            {allow: canUse, params: p("id", "{opackage}")},

	// --- plans and usage (issue 11; SPEC 2 and 14) ---
	"GET /usage":               {allow: anyMember},
	"POST /settings/plan":      {allow: ownerOnly, body: "plan=pro"}, // the usage engineer's choice: the owner alone changes the plan
	"GET /api/orgs/:org/usage": {allow: anyMember},
	"PUT /api/orgs/:org/plan":  {allow: ownerOnly, body: `{"plan": "pro"}`},

	// --- development only (webtest runs with Dev) ---
	"GET /dev/outbox": {allow: anyAccount},
}
