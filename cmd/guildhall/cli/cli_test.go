package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"guildhall/db/dbtest"
	"guildhall/web/webtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// harness is one running server and one CLI config file.
type harness struct {
	t    *testing.T
	env  *webtest.Env
	cfg  string
	vars map[string]string
	// readPassword, when set, stands in for the terminal's no-echo read.
	readPassword func() (string, error)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := webtest.New(t)
	cfg := filepath.Join(t.TempDir(), "conf", "cli.json")
	return &harness{t: t, env: env, cfg: cfg, vars: map[string]string{"GUILDHALL_CONFIG": cfg, "GUILDHALL_URL": env.URL}}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs one command line with stdin as standard input.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errb strings.Builder
	code := Run(context.Background(), args, Env{
		Stdin:        strings.NewReader(stdin),
		Stdout:       &out,
		Stderr:       &errb,
		Getenv:       func(k string) string { return h.vars[k] },
		HTTP:         &http.Client{},
		ReadPassword: h.readPassword,
	})
	h.t.Logf("guildhall %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// must runs a command line that has to succeed.
func (h *harness) must(stdin string, args ...string) result {
	h.t.Helper()
	r := h.run(stdin, args...)
	if r.code != ExitOK {
		h.t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// signUpAndLogin creates an account and logs the CLI in as it.
func (h *harness) signUpAndLogin(email, name string) *webtest.API {
	h.t.Helper()
	api, _ := h.env.SignUpAPI(email, name)
	h.must(webtest.Password+"\n", "login", "--email", email, "--password-stdin")
	return api
}

func (h *harness) config() Config {
	h.t.Helper()
	b, err := os.ReadFile(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		h.t.Fatalf("config %s: %v", b, err)
	}
	return c
}

func expect(t *testing.T, r result, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestLoginStoresTokenInPrivateConfig(t *testing.T) {
	h := newHarness(t)
	h.env.SignUpAPI("alice@example.com", "Alice")
	r := h.run(webtest.Password+"\n", "login", "--email", "Alice@Example.com", "--password-stdin")
	expect(t, r, ExitOK, []string{"Logged in to " + h.env.URL + " as alice@example.com.", "Personal workspace", h.cfg}, nil)
	if strings.Contains(r.stdout+r.stderr, webtest.Password) {
		t.Errorf("the password was printed:\n%s%s", r.stdout, r.stderr)
	}

	fi, err := os.Stat(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("config mode %o, want 600", m)
		}
		di, _ := os.Stat(filepath.Dir(h.cfg))
		if m := di.Mode().Perm(); m != 0o700 {
			t.Errorf("config folder mode %o, want 700", m)
		}
	}
	raw, _ := os.ReadFile(h.cfg)
	if strings.Contains(string(raw), webtest.Password) {
		t.Errorf("the config holds the password:\n%s", raw)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"url", "token", "email", "org"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("config lacks %q:\n%s", k, raw)
		}
	}
	c := h.config()
	if c.URL != h.env.URL || c.Email != "alice@example.com" || c.Org != "" || c.Token == "" {
		t.Errorf("config = %+v", c)
	}

	// The stored token works and is named after the CLI.
	me := h.env.NewAPI(c.Token).Do(http.MethodGet, "/api/me", nil)
	if me.Status != http.StatusOK {
		t.Fatalf("GET /api/me with the stored token: %d %s", me.Status, me.Raw)
	}
	if tok, _ := me.Data()["token"].(map[string]any); tok["name"] != TokenName {
		t.Errorf("token = %v, want name %q", me.Data()["token"], TokenName)
	}

	// A config left with a loose mode is replaced by a private one.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(h.cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		h.must(webtest.Password+"\n", "login", "--email", "alice@example.com", "--password-stdin")
		if fi, _ := os.Stat(h.cfg); fi.Mode().Perm() != 0o600 {
			t.Errorf("config mode after a new login %o, want 600", fi.Mode().Perm())
		}
	}
}

func TestLoginWrongPassword(t *testing.T) {
	h := newHarness(t)
	h.env.SignUpAPI("alice@example.com", "Alice")
	r := h.run("not-the-password\n", "login", "--email", "alice@example.com", "--password-stdin")
	expect(t, r, ExitError, nil, []string{"error: ", "(unauthorized)"})
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	if strings.Contains(r.stderr, "guildhall login") {
		t.Errorf("a failed login should not tell to log in again:\n%s", r.stderr)
	}
	if _, err := os.Stat(h.cfg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed login wrote the config (stat: %v)", err)
	}
}

func TestLoginPrompts(t *testing.T) {
	h := newHarness(t)
	h.env.SignUpAPI("alice@example.com", "Alice")

	// On a terminal: the email is read as a line, the password without echo.
	h.readPassword = func() (string, error) { return webtest.Password, nil }
	r := h.run("alice@example.com\n", "login", "--url", h.env.URL+"/")
	expect(t, r, ExitOK, []string{"Logged in to " + h.env.URL + " as alice@example.com."}, []string{"Email: ", "Password: "})
	if c := h.config(); c.URL != h.env.URL {
		t.Errorf("url = %q, want %q (no trailing slash)", c.URL, h.env.URL)
	}

	// Not a terminal: both are lines of standard input.
	h.readPassword = nil
	r = h.run("alice@example.com\n"+webtest.Password+"\n", "login")
	expect(t, r, ExitOK, []string{"as alice@example.com"}, []string{"Email: ", "Password: "})

	// Without --url or GUILDHALL_URL, the last server logged in to.
	delete(h.vars, "GUILDHALL_URL")
	r = h.run(webtest.Password+"\n", "login", "--email", "alice@example.com", "--password-stdin")
	expect(t, r, ExitOK, []string{"Logged in to " + h.env.URL + " as alice@example.com."}, nil)

	// Nothing typed.
	r = h.run("\n", "login")
	expect(t, r, ExitError, nil, []string{"error: an email is required"})
}

func TestLoginUsageErrors(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"login", "--password-stdin"}, "--password-stdin needs --email"},
		{[]string{"login", "extra"}, "login takes no arguments"},
		{[]string{"login", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"login", "--url", "ftp://example.com", "--email", "a@example.com"}, "is not a server URL"},
	} {
		r := h.run("secret\n", tc.args...)
		expect(t, r, ExitUsage, nil, []string{tc.msg, "Usage:"})
	}
	r := h.run("", "login", "-h")
	expect(t, r, ExitOK, []string{"Usage: guildhall login", "-password-stdin"}, nil)
}

func TestNotLoggedIn(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{
		{"org", "create", "acme", "Acme"},
		{"org", "switch", "acme"},
		{"org", "switch", "none"},
		{"org", "whoami"},
		{"org", "invite", "bob@example.com"},
	} {
		r := h.run("", args...)
		expect(t, r, ExitError, nil, []string{`not logged in: run "guildhall login"`})
	}
}

func TestStaleTokenSaysToLogInAgain(t *testing.T) {
	h := newHarness(t)
	if err := saveConfig(h.cfg, Config{URL: h.env.URL, Token: "gh_not_a_real_token", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "org", "whoami")
	expect(t, r, ExitError, nil, []string{"error: ", "(unauthorized)", `run "guildhall login" again`})
}

func TestOrgCreate(t *testing.T) {
	h := newHarness(t)
	h.signUpAndLogin("alice@example.com", "Alice")

	r := h.run("", "org", "create", "acme", "Acme Inc")
	expect(t, r, ExitOK, []string{"Created organization Acme Inc (acme).", "slug:  acme", "role:  owner", `guildhall org switch acme`}, nil)
	if r.stderr != "" {
		t.Errorf("stderr = %q", r.stderr)
	}
	if c := h.config(); c.Org != "" {
		t.Errorf("creating an org switched to it: %+v", c)
	}

	// A bad slug: the API's validation message, exit 1, nothing on stdout.
	for _, args := range [][]string{
		{"org", "create", "Not_A_Slug!", "Bad"},
		{"org", "create", "--", "-bad-", "Bad"}, // after "--" a leading hyphen is no flag
	} {
		r = h.run("", args...)
		expect(t, r, ExitError, nil, []string{"error: ", "(validation_error)"})
		if r.stdout != "" || strings.Contains(r.stderr, "Usage:") {
			t.Errorf("%v: stdout %q, stderr %q", args, r.stdout, r.stderr)
		}
		if !strings.Contains(strings.ToLower(r.stderr), "slug") {
			t.Errorf("%v: the message does not name the slug:\n%s", args, r.stderr)
		}
	}

	// A taken slug is an error too.
	r = h.run("", "org", "create", "acme", "Acme Again")
	expect(t, r, ExitError, nil, []string{"error: "})

	// Wrong command lines are usage errors.
	expect(t, h.run("", "org", "create", "lonely"), ExitUsage, nil, []string{`org create needs a SLUG and a "NAME"`, "Usage:"})
	expect(t, h.run("", "org", "create"), ExitUsage, nil, []string{"Usage:"})
}

func TestOrgSwitchAndWhoami(t *testing.T) {
	h := newHarness(t)
	h.signUpAndLogin("alice@example.com", "Alice")
	h.must("", "org", "create", "acme", "Acme Inc")

	r := h.must("", "org", "whoami")
	expect(t, r, ExitOK, []string{"Signed in as alice@example.com at " + h.env.URL, "Personal workspace"}, nil)

	r = h.must("", "org", "switch", "acme")
	expect(t, r, ExitOK, []string{"Switched to Acme Inc (acme). Your role: owner."}, nil)
	if c := h.config(); c.Org != "acme" || c.OrgID == 0 {
		t.Errorf("config after switch = %+v", c)
	}
	r = h.must("", "org", "whoami")
	expect(t, r, ExitOK, []string{"Signed in as alice@example.com", "Active organization: Acme Inc (acme), your role: owner"}, nil)
	if strings.Contains(r.stdout, "Personal") {
		t.Errorf("whoami in an org mentions Personal:\n%s", r.stdout)
	}

	// An org the caller does not belong to: not found, the active org stays.
	api, _ := h.env.SignUpAPI("eve@example.com", "Eve")
	if res := api.Do(http.MethodPost, "/api/orgs", map[string]any{"slug": "evil", "display_name": "Evil"}); res.Status != http.StatusCreated {
		t.Fatalf("create evil: %d %s", res.Status, res.Raw)
	}
	for _, slug := range []string{"evil", "no-such-org"} {
		r = h.run("", "org", "switch", slug)
		expect(t, r, ExitError, nil, []string{"error: ", "(not_found)"})
	}
	if c := h.config(); c.Org != "acme" {
		t.Errorf("a failed switch changed the active org: %+v", c)
	}

	r = h.must("", "org", "switch", "none")
	expect(t, r, ExitOK, []string{"Switched to your personal workspace."}, nil)
	if c := h.config(); c.Org != "" || c.OrgID != 0 || c.Token == "" {
		t.Errorf("config after switch none = %+v", c)
	}
	r = h.must("", "org", "whoami")
	expect(t, r, ExitOK, []string{"Signed in as alice@example.com", "Active workspace: Personal workspace"}, nil)

	expect(t, h.run("", "org", "switch"), ExitUsage, nil, []string{"org switch needs one SLUG"})
	expect(t, h.run("", "org", "whoami", "extra"), ExitUsage, nil, []string{"org whoami takes no arguments"})
}

func TestOrgSwitchToPersonalOrgSlug(t *testing.T) {
	h := newHarness(t)
	api := h.signUpAndLogin("alice@example.com", "Alice")
	me := api.Do(http.MethodGet, "/api/me", nil)
	personal, _ := me.Data()["personal_org"].(map[string]any)
	slug, _ := personal["slug"].(string)
	if slug == "" {
		t.Fatalf("no personal org slug in %s", me.Raw)
	}
	r := h.must("", "org", "switch", slug)
	expect(t, r, ExitOK, []string{"Switched to your personal workspace."}, nil)
	if c := h.config(); c.Org != "" {
		t.Errorf("config = %+v", c)
	}
}

func TestWhoamiFallsBackWhenOrgIsGone(t *testing.T) {
	h := newHarness(t)
	api := h.signUpAndLogin("alice@example.com", "Alice")
	h.must("", "org", "create", "acme", "Acme Inc")
	h.must("", "org", "switch", "acme")

	// Re-slugged: still active, under its new slug.
	if res := api.Do(http.MethodPatch, "/api/orgs/acme", map[string]any{"slug": "acme-co"}); res.Status != http.StatusOK {
		t.Fatalf("re-slug: %d %s", res.Status, res.Raw)
	}
	r := h.must("", "org", "whoami")
	expect(t, r, ExitOK, []string{"Active organization: Acme Inc (acme-co), your role: owner"}, nil)
	if c := h.config(); c.Org != "acme-co" {
		t.Errorf("config after re-slug = %+v", c)
	}

	// Deleted: back to personal, with a notice.
	if res := api.Do(http.MethodDelete, "/api/orgs/acme-co", nil); res.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", res.Status, res.Raw)
	}
	r = h.must("", "org", "whoami")
	expect(t, r, ExitOK, []string{"Active workspace: Personal workspace"}, []string{"no longer have access to acme-co"})
	if c := h.config(); c.Org != "" || c.OrgID != 0 {
		t.Errorf("config after the org was deleted = %+v", c)
	}
}

func TestOrgInvite(t *testing.T) {
	h := newHarness(t)
	api := h.signUpAndLogin("alice@example.com", "Alice")
	h.must("", "org", "create", "acme", "Acme Inc")

	// Personal workspace: no invitations.
	r := h.run("", "org", "invite", "bob@example.com")
	expect(t, r, ExitError, nil, []string{"error: no active organization", `guildhall org switch SLUG`})

	h.must("", "org", "switch", "acme")
	r = h.run("", "org", "invite", "bob@example.com")
	expect(t, r, ExitOK, []string{"Invited bob@example.com to acme as member.", "The invitation expires on ", " UTC."}, nil)

	// The flag may follow the email.
	r = h.run("", "org", "invite", "carol@example.com", "--role", "admin")
	expect(t, r, ExitOK, []string{"Invited carol@example.com to acme as admin."}, nil)
	r = h.run("", "org", "invite", "--role=billing", "dan@example.com")
	expect(t, r, ExitOK, []string{"Invited dan@example.com to acme as billing."}, nil)

	pending := api.Do(http.MethodGet, "/api/orgs/acme/invitations", nil)
	roles := map[string]string{}
	for _, it := range pending.List() {
		m, _ := it.(map[string]any)
		e, _ := m["email"].(string)
		ro, _ := m["role"].(string)
		roles[e] = ro
	}
	want := map[string]string{"bob@example.com": "member", "carol@example.com": "admin", "dan@example.com": "billing"}
	for e, ro := range want {
		if roles[e] != ro {
			t.Errorf("pending invitations %v, want %s at %s", roles, e, ro)
		}
	}

	// An unknown role: the API's validation error.
	r = h.run("", "org", "invite", "erin@example.com", "--role", "wizard")
	expect(t, r, ExitError, nil, []string{"error: ", "(validation_error)"})
	if r.stdout != "" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.Contains(strings.ToLower(r.stderr), "role") {
		t.Errorf("unknown role: the message does not name the role:\n%s", r.stderr)
	}

	// Inviting again while one is pending is an error.
	r = h.run("", "org", "invite", "bob@example.com")
	expect(t, r, ExitError, nil, []string{"error: "})

	expect(t, h.run("", "org", "invite"), ExitUsage, nil, []string{"org invite needs one EMAIL"})
	expect(t, h.run("", "org", "invite", "a@example.com", "b@example.com"), ExitUsage, nil, []string{"org invite needs one EMAIL"})
	expect(t, h.run("", "org", "invite", "a@example.com", "--role"), ExitUsage, nil, []string{"flag needs an argument"})
}

func TestUsage(t *testing.T) {
	h := &harness{t: t, vars: map[string]string{"GUILDHALL_CONFIG": filepath.Join(t.TempDir(), "cli.json")}}
	for _, args := range [][]string{
		{},
		{"org"},
		{"org", "frobnicate"},
	} {
		r := h.run("", args...)
		expect(t, r, ExitUsage, nil, []string{"Usage:", "guildhall login", "guildhall org invite"})
	}
	r := h.run("", "org", "frobnicate")
	expect(t, r, ExitUsage, nil, []string{`unknown command "org frobnicate"`})
	for _, args := range [][]string{{"help"}, {"org", "help"}, {"org", "--help"}} {
		r := h.run("", args...)
		expect(t, r, ExitOK, []string{"Usage:", "guildhall org switch SLUG|none"}, nil)
	}
	if !strings.Contains(Usage, "guildhall org wallet") || !strings.Contains(Usage, "guildhall buy PACKAGE") {
		t.Errorf("usage misses the money verbs:\n%s", Usage)
	}
}
