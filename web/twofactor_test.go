package web_test

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"guildhall/web/webtest"
)

var (
	totpSecretRe = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`)
	recoveryRe   = regexp.MustCompile(`<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>`)
)

// enrolTOTP turns on two-factor for a signed-in client through the pages and
// returns the TOTP secret and the recovery codes.
func enrolTOTP(t *testing.T, env *webtest.Env, c *webtest.Client) (string, []string) {
	t.Helper()
	res := c.Post("/profile/two-factor", nil)
	if res.Status != http.StatusSeeOther || res.Location != "/profile/two-factor" {
		t.Fatalf("start enrolment: %d %s\n%s", res.Status, res.Location, res.Body)
	}
	setup := c.Get("/profile/two-factor")
	wantStatus(t, setup, http.StatusOK, `src="/profile/two-factor/qr.png"`, `id="two-factor-confirm"`)
	if setup.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("setup page Cache-Control %q", setup.Header.Get("Cache-Control"))
	}
	m := totpSecretRe.FindStringSubmatch(setup.Body)
	if m == nil {
		t.Fatalf("no secret on the setup page\n%s", setup.Body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	code, _ := totp.GenerateCode(secret, env.Clock.Now())
	res = c.Post("/profile/two-factor/confirm", url.Values{"code": {code}})
	wantStatus(t, res, http.StatusOK, "Save your recovery codes")
	var codes []string
	for _, m := range recoveryRe.FindAllStringSubmatch(res.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("recovery page: %d codes, Cache-Control %q", len(codes), res.Header.Get("Cache-Control"))
	}
	env.Clock.Advance(30 * time.Second) // the confirming code's step is used up
	c.Get("/profile")
	return secret, codes
}

// signInWithCode signs in through both steps.
func signInWithCode(t *testing.T, env *webtest.Env, email, code string) (*webtest.Client, webtest.Response) {
	t.Helper()
	c := env.NewClient()
	res := c.Post("/login", url.Values{"email": {email}, "password": {webtest.Password}})
	if res.Status != http.StatusSeeOther || res.Location != "/login/2fa" {
		t.Fatalf("password step: %d %s", res.Status, res.Location)
	}
	c.Get("/login/2fa")
	return c, c.Post("/login/2fa", url.Values{"code": {code}})
}

func TestTwoFactorEnrolAndSignIn(t *testing.T) {
	env := webtest.New(t)
	ada := env.SignUpVerified("ada@example.com", "Ada")
	prof := ada.Get("/profile")
	wantStatus(t, prof, http.StatusOK, `id="two-factor"`, "Set up an authenticator app", `id="sessions"`, "This device")

	// A wrong first code keeps the setup page with an error.
	ada.Post("/profile/two-factor", nil)
	ada.Get("/profile/two-factor")
	wantStatus(t, ada.Post("/profile/two-factor/confirm", url.Values{"code": {"000000"}}), http.StatusUnprocessableEntity, "That code is not right")
	qr := ada.Get("/profile/two-factor/qr.png")
	if qr.Status != http.StatusOK || qr.Header.Get("Content-Type") != "image/png" || qr.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("QR: %d %q %q", qr.Status, qr.Header.Get("Content-Type"), qr.Header.Get("Cache-Control"))
	}
	if img, err := png.Decode(bytes.NewReader([]byte(qr.Body))); err != nil || img.Bounds().Dx() != 200 {
		t.Fatalf("QR is not a 200 px PNG: %v", err)
	}
	secret, codes := enrolTOTP(t, env, ada)
	wantStatus(t, ada.Get("/profile"), http.StatusOK, "Authenticator app on since", "10 of 10 recovery codes left", `id="two-factor-disable"`)
	// Signed out, the QR route is not reachable and the secret is not shown anywhere.
	if r := env.NewClient().Get("/profile/two-factor/qr.png"); r.Status != http.StatusSeeOther {
		t.Fatalf("QR signed out: %d", r.Status)
	}

	// The password alone does not sign in: no session until the code.
	c := env.NewClient()
	res := c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {webtest.Password}})
	if res.Status != http.StatusSeeOther || res.Location != "/login/2fa" {
		t.Fatalf("password step: %d %s", res.Status, res.Location)
	}
	if r := c.Get("/"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
		t.Fatalf("half signed in reaches the overview: %d %s", r.Status, r.Location)
	}
	var sessions int
	_ = env.Store.DB().Get(&sessions, `SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.email = 'ada@example.com'`)
	if sessions != 1 { // only ada's own browser from sign-up
		t.Fatalf("%d sessions after the password step, want 1", sessions)
	}
	page := c.Get("/login/2fa")
	wantStatus(t, page, http.StatusOK, "Signing in as ada@example.com", `id="second-factor-form"`)
	wantStatus(t, c.Post("/login/2fa", url.Values{"code": {"123456"}}), http.StatusUnauthorized, "That code did not work")
	code, _ := totp.GenerateCode(secret, env.Clock.Now())
	res = c.Post("/login/2fa", url.Values{"code": {code}})
	if res.Status != http.StatusSeeOther || res.Location != "/" {
		t.Fatalf("second step: %d %s\n%s", res.Status, res.Location, res.Body)
	}
	wantStatus(t, c.Get("/"), http.StatusOK, "Personal workspace")
	// The same code cannot sign in a second browser.
	_, res = signInWithCode(t, env, "ada@example.com", code)
	wantStatus(t, res, http.StatusUnauthorized, "already used")

	// A recovery code signs in once, and says how many are left.
	rc, res := signInWithCode(t, env, "ada@example.com", strings.ToUpper(codes[3]))
	if res.Status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d", res.Status)
	}
	wantStatus(t, rc.Get("/"), http.StatusOK, "You used a recovery code: 9 left")
	_, res = signInWithCode(t, env, "ada@example.com", codes[3])
	wantStatus(t, res, http.StatusUnauthorized)

	// The half-done sign-in expires.
	late := env.NewClient()
	late.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {webtest.Password}})
	late.Get("/login/2fa")
	env.Clock.Advance(6 * time.Minute)
	code, _ = totp.GenerateCode(secret, env.Clock.Now())
	if r := late.Post("/login/2fa", url.Values{"code": {code}}); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("expired second step: %d %s", r.Status, r.Location)
	}
	if r := late.Get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("expired second step signed in: %d", r.Status)
	}

	// API token issue asks for the code too.
	api := env.NewAPI("")
	r := api.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password})
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.ErrorMessage(), "otp") {
		t.Fatalf("token without otp: %d %s", r.Status, r.Raw)
	}
	r = api.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password, "otp": "111111"})
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("token with a wrong otp: %d %s", r.Status, r.Raw)
	}
	r = api.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "ada@example.com", "password": webtest.Password, "otp": code})
	if r.Status != http.StatusCreated {
		t.Fatalf("token with otp: %d %s", r.Status, r.Raw)
	}
	me := env.NewAPI(r.Data()["token"].(string)).Do(http.MethodGet, "/api/me", nil)
	if !strings.Contains(me.Raw, `"two_factor":true`) {
		t.Fatalf("/api/me lacks two_factor: %s", me.Raw)
	}

	// Turning it off needs the password (or a code).
	wantStatus(t, ada.Post("/profile/two-factor/disable", url.Values{"password": {"wrong-password-1"}}), http.StatusUnprocessableEntity, "That is not your password")
	if res := ada.Post("/profile/two-factor/disable", url.Values{"password": {webtest.Password}}); res.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d\n%s", res.Status, res.Body)
	}
	if res := env.NewClient().Post("/login", url.Values{"email": {"ada@example.com"}, "password": {webtest.Password}}); res.Location != "/" {
		t.Fatalf("sign-in after disabling: %s", res.Location)
	}

	// Every step is in the personal org's audit log, without codes.
	acc, _ := env.Store.AccountByEmail(t.Context(), "ada@example.com")
	for action, outcome := range map[string]string{"two_factor.enabled": "success", "two_factor.disabled": "success",
		"two_factor.recovery_used": "success", "two_factor.challenge_failed": "denied"} {
		var n int
		_ = env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2 AND outcome = $3`, acc.PersonalOrgID, action, outcome)
		if n == 0 {
			t.Errorf("no %s %s event", action, outcome)
		}
	}
	var leaked int
	_ = env.Store.DB().Get(&leaked, `SELECT count(*) FROM audit_events WHERE audit_events::text ILIKE '%' || $1 || '%' OR audit_events::text ILIKE '%' || $2 || '%'`, codes[3], secret)
	if leaked != 0 {
		t.Fatal("audit log holds a code or the secret")
	}
}

func TestTwoFactorCodeRateLimited(t *testing.T) {
	env := webtest.New(t, webtest.Options{SignInLimit: 3})
	ada := env.SignUpVerified("ada@example.com", "Ada")
	secret, _ := enrolTOTP(t, env, ada)
	c := env.NewClient()
	c.Post("/login", url.Values{"email": {"ada@example.com"}, "password": {webtest.Password}})
	c.Get("/login/2fa")
	statuses := []int{}
	for range 4 {
		statuses = append(statuses, c.Post("/login/2fa", url.Values{"code": {"999999"}}).Status)
	}
	if fmt.Sprint(statuses) != "[401 401 401 429]" {
		t.Fatalf("statuses %v", statuses)
	}
	// Even the right code waits out the limit.
	code, _ := totp.GenerateCode(secret, env.Clock.Now())
	wantStatus(t, c.Post("/login/2fa", url.Values{"code": {code}}), http.StatusTooManyRequests, "Too many attempts")
}

func TestSessionsOnProfile(t *testing.T) {
	env := webtest.New(t)
	ada := env.SignUpVerified("ada@example.com", "Ada")
	phone := env.NewClient()
	phone.SignIn("ada@example.com", webtest.Password)
	laptop := env.NewClient()
	laptop.SignIn("ada@example.com", webtest.Password)
	eve := env.SignUpVerified("eve@example.com", "Eve")

	prof := ada.Get("/profile")
	wantStatus(t, prof, http.StatusOK, "This device", "Sign out everywhere else")
	ids := regexp.MustCompile(`data-session="(\d+)"`).FindAllStringSubmatch(prof.Body, -1)
	if len(ids) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(ids))
	}
	other := ids[1][1]
	// Eve cannot end Ada's session.
	wantStatus(t, eve.Post("/profile/sessions/"+other+"/revoke", nil), http.StatusNotFound)
	wantStatus(t, ada.Post("/profile/sessions/abc/revoke", nil), http.StatusNotFound)
	if res := ada.Post("/profile/sessions/"+other+"/revoke", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.Status)
	}
	signedOut := 0
	for _, c := range []*webtest.Client{phone, laptop} {
		if c.Get("/").Status == http.StatusSeeOther {
			signedOut++
		}
	}
	if signedOut != 1 {
		t.Fatalf("%d browsers signed out, want 1", signedOut)
	}
	if res := ada.Post("/profile/sessions/revoke-others", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("revoke others: %d", res.Status)
	}
	if phone.Get("/").Status != http.StatusSeeOther || laptop.Get("/").Status != http.StatusSeeOther {
		t.Fatal("another session survived sign out everywhere else")
	}
	wantStatus(t, ada.Get("/"), http.StatusOK, "Signed out of 1 other session.")
}

func TestOrgRequiresTwoFactor(t *testing.T) {
	env := webtest.New(t)
	olive := memberOrg(t, env, "olive@example.com", "Olive", "Acme")
	acme := orgIDBySlug(t, env, "acme")
	bob := env.SignUpVerified("bob@example.com", "Bob")
	carl := env.SignUpVerified("carl@example.com", "Carl")
	for email, role := range map[string]string{"bob@example.com": "member", "carl@example.com": "admin"} {
		if _, err := env.Store.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, acme, accountID(t, env, email), role); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*webtest.Client{bob, carl} {
		if r := c.Post("/workspace", url.Values{"org_id": {fmt.Sprint(acme)}}); r.Status != http.StatusSeeOther {
			t.Fatalf("switch: %d", r.Status)
		}
	}

	// Olive cannot require it before she has it herself.
	wantStatus(t, olive.Get("/settings"), http.StatusOK, `id="require-two-factor"`, "Turn on two-factor for your own account first")
	olive.Post("/settings/two-factor", url.Values{"require_two_factor": {"true"}})
	wantStatus(t, olive.Get("/settings"), http.StatusOK, "or you would lose access yourself")
	if org, _ := env.Store.OrgByID(t.Context(), acme); org.RequireTwoFactor {
		t.Fatal("required without the owner's 2FA")
	}
	oliveSecret, _ := enrolTOTP(t, env, olive)
	enrolTOTP(t, env, carl)
	// A member cannot change it.
	wantStatus(t, bob.Post("/settings/two-factor", url.Values{"require_two_factor": {"true"}}), http.StatusForbidden)
	wantStatus(t, olive.Get("/settings"), http.StatusOK, "1 member without it will lose access")
	if r := olive.Post("/settings/two-factor", url.Values{"require_two_factor": {"true"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("require: %d", r.Status)
	}
	wantStatus(t, olive.Get("/settings"), http.StatusOK, "Required")

	// Bob is locked out of Acme's pages with a page that leads to enrolment.
	for _, path := range []string{"/", "/members", "/agents", "/settings"} {
		wantStatus(t, bob.Get(path), http.StatusForbidden, `id="two-factor-required"`, "Acme", "Set up two-factor now")
	}
	wantStatus(t, bob.Get("/profile"), http.StatusOK, `id="two-factor"`)
	// Bob's API calls for Acme answer 403 two_factor_required; his own workspace works.
	tok := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "bob@example.com", "password": webtest.Password})
	bobAPI := env.NewAPI(tok.Data()["token"].(string))
	for _, path := range []string{"/api/orgs/acme", "/api/orgs/acme/members", fmt.Sprintf("/api/orgs/%d/teams", acme)} {
		r := bobAPI.Do(http.MethodGet, path, nil)
		if r.Status != http.StatusForbidden || r.ErrorCode() != "two_factor_required" || !strings.Contains(r.ErrorMessage(), "two-factor") {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := bobAPI.Do(http.MethodGet, "/api/me", nil); r.Status != http.StatusOK {
		t.Fatalf("/api/me: %d", r.Status)
	}
	// Acme's agents are out of Bob's reach too, by id and in lists.
	ag := oliveAPIFor(t, env, oliveSecret).Do(http.MethodPost, "/api/agents", map[string]any{"name": "Acme bot", "org": "acme"})
	agentPath := fmt.Sprintf("/api/agents/%v", ag.Data()["id"])
	env.Store.DB().MustExec(`UPDATE orgs SET member_base_permission = 'read' WHERE id = $1`, acme)
	if r := bobAPI.Do(http.MethodGet, agentPath, nil); r.Status != http.StatusNotFound {
		t.Fatalf("GET %s while locked out: %d %s", agentPath, r.Status, r.Raw)
	}
	if r := bobAPI.Do(http.MethodGet, "/api/agents", nil); strings.Contains(r.Raw, "Acme bot") {
		t.Fatalf("agent list while locked out: %s", r.Raw)
	}
	wantStatus(t, bob.Get(strings.TrimPrefix(agentPath, "/api")), http.StatusForbidden, `id="two-factor-required"`)

	// Owners see each member's status; admins do not.
	members := olive.Get("/members")
	wantStatus(t, members, http.StatusOK, "<th>Two-factor</th>", "2FA on", "2FA off")
	if strings.Count(members.Body, "2FA on") != 2 || strings.Count(members.Body, "2FA off") != 1 {
		t.Fatalf("badges: %d on, %d off", strings.Count(members.Body, "2FA on"), strings.Count(members.Body, "2FA off"))
	}
	if strings.Contains(carl.Get("/members").Body, "<th>Two-factor</th>") {
		t.Fatal("an admin sees two-factor status")
	}
	oliveAPI := oliveAPIFor(t, env, oliveSecret)
	list := oliveAPI.Do(http.MethodGet, "/api/orgs/acme/members", nil)
	if !strings.Contains(list.Raw, `"two_factor":false`) || !strings.Contains(list.Raw, `"two_factor":true`) {
		t.Fatalf("owner's member list: %s", list.Raw)
	}
	if g := oliveAPI.Do(http.MethodGet, "/api/orgs/acme", nil); !strings.Contains(g.Raw, `"require_two_factor":true`) {
		t.Fatalf("GET org: %s", g.Raw)
	}

	// Bob enrols from the lock page and gets in.
	enrolTOTP(t, env, bob)
	wantStatus(t, bob.Get("/members"), http.StatusOK)
	if r := bobAPI.Do(http.MethodGet, agentPath, nil); r.Status != http.StatusOK {
		t.Fatalf("GET %s after enrolling: %d %s", agentPath, r.Status, r.Raw)
	}

	// The API can turn it off (and audits it).
	if r := oliveAPI.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"require_two_factor": false}); r.Status != http.StatusOK || !strings.Contains(r.Raw, `"require_two_factor":false`) {
		t.Fatalf("PATCH: %d %s", r.Status, r.Raw)
	}
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'org.updated' AND outcome = 'success'`, acme)
	if n != 2 {
		t.Fatalf("org.updated events: %d, want 2", n)
	}
}

func currentCode(t *testing.T, env *webtest.Env, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestPasskeyEndpointsRefuse covers the refusals of the passkey routes; the
// ceremonies themselves run in Chromium (web/e2e TestPasskeyPages).
func TestPasskeyEndpointsRefuse(t *testing.T) {
	env := webtest.New(t)
	ada := env.SignUpVerified("ada@example.com", "Ada")
	eve := env.SignUpVerified("eve@example.com", "Eve")
	// No sign-in waiting for a second step.
	wantStatus(t, env.NewClient().Post("/login/2fa/passkey/options", nil), http.StatusConflict)
	wantStatus(t, env.NewClient().Post("/login/2fa/passkey", nil), http.StatusConflict)
	// No ceremony started, or a bad name.
	wantStatus(t, ada.Post("/profile/passkeys?name=Laptop", nil), http.StatusConflict)
	wantStatus(t, ada.Post("/profile/passkeys?name=", nil), http.StatusUnprocessableEntity)
	wantStatus(t, ada.Post("/profile/passkeys?name=a%00b", nil), http.StatusUnprocessableEntity)
	// Options carry a challenge and are not cached.
	opts := ada.Post("/profile/passkeys/options", nil)
	if opts.Status != http.StatusOK || !strings.Contains(opts.Body, `"challenge"`) || opts.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("options: %d %s", opts.Status, opts.Body)
	}
	// A forged answer is refused and uses up the challenge.
	wantStatus(t, ada.Post("/profile/passkeys?name=Laptop", url.Values{"id": {"x"}}), http.StatusUnprocessableEntity)
	wantStatus(t, ada.Post("/profile/passkeys?name=Laptop", nil), http.StatusConflict)
	// Another account's passkey is not found.
	var id int64
	if err := env.Store.DB().Get(&id, `INSERT INTO webauthn_credentials (account_id, name, credential_id, data)
		SELECT id, 'Key', '\x01'::bytea, '{}' FROM accounts WHERE email = 'ada@example.com' RETURNING id`); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, eve.Post(fmt.Sprintf("/profile/passkeys/%d/remove", id), nil), http.StatusNotFound)
	if r := ada.Post(fmt.Sprintf("/profile/passkeys/%d/remove", id), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("remove own passkey: %d", r.Status)
	}
	acc, _ := env.Store.AccountByEmail(t.Context(), "ada@example.com")
	var n int
	_ = env.Store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action IN ('two_factor.passkey_removed', 'two_factor.disabled')`, acc.PersonalOrgID)
	if n != 2 {
		t.Fatalf("audit events for the removal: %d, want 2", n)
	}
}

// oliveAPIFor issues an API token for olive@example.com with her current code.
func oliveAPIFor(t *testing.T, env *webtest.Env, secret string) *webtest.API {
	t.Helper()
	env.Clock.Advance(30 * time.Second)
	r := env.NewAPI("").Do(http.MethodPost, "/api/auth/token", map[string]any{"email": "olive@example.com", "password": webtest.Password, "otp": currentCode(t, env, secret)})
	if r.Status != http.StatusCreated {
		t.Fatalf("token: %d %s", r.Status, r.Raw)
	}
	return env.NewAPI(r.Data()["token"].(string))
}
