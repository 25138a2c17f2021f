package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"guildhall/web"
	"guildhall/web/webtest"
)

// signUpForm signs up through the form with extra request headers and
// returns the status.
func signUpForm(t *testing.T, env *webtest.Env, email string, headers ...string) int {
	t.Helper()
	c := env.NewClient()
	form := url.Values{"email": {email}, "name": {"Someone"}, "password": {webtest.Password}, "_csrf": {c.CSRF()}}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/signup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func ipsOf(t *testing.T, env *webtest.Env, email string) (audit, session string) {
	t.Helper()
	if err := env.Store.DB().Get(&audit, `SELECT ip FROM audit_events WHERE actor_email = $1 ORDER BY id LIMIT 1`, email); err != nil {
		t.Fatal(err)
	}
	_ = env.Store.DB().Get(&session, `SELECT s.ip FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.email = $1 LIMIT 1`, email)
	return audit, session
}

// TestForgedForwardedForChangesNothing: with no trusted proxy, the client IP
// is the socket peer. Rotating X-Forwarded-For does not get around the
// per-IP sign-in limit, and the audit log and sessions record the peer.
func TestForgedForwardedForChangesNothing(t *testing.T) {
	env := webtest.New(t, webtest.Options{SignInLimit: 3})
	anon := env.NewAPI("")
	for i := 0; i < 4; i++ {
		// A different unknown account each time, so only the IP key can trip.
		r := anon.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-password"},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1), "X-Real-IP", fmt.Sprintf("192.0.2.%d", i+1))
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r.Status != want {
			t.Fatalf("attempt %d with a rotated X-Forwarded-For: %d, want %d: %s", i+1, r.Status, want, r.Raw)
		}
	}

	env2 := webtest.New(t)
	if st := signUpForm(t, env2, "eve@example.com", "X-Forwarded-For", "6.6.6.6", "X-Real-IP", "7.7.7.7"); st != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", st)
	}
	audit, session := ipsOf(t, env2, "eve@example.com")
	if audit != "127.0.0.1" || session != "127.0.0.1" {
		t.Errorf("forged headers reached the records: audit ip %q, session ip %q; want the peer 127.0.0.1", audit, session)
	}
	// A garbage header is ignored too, never stored.
	r := env2.NewAPI("").Do(http.MethodPost, "/api/auth/signup", map[string]any{"email": "mal@example.com", "name": "Mal", "password": webtest.Password},
		"X-Forwarded-For", "<script>, not-an-ip")
	if r.Status != http.StatusCreated {
		t.Fatalf("api sign-up: %d %s", r.Status, r.Raw)
	}
	if audit, _ := ipsOf(t, env2, "mal@example.com"); audit != "127.0.0.1" {
		t.Errorf("audit ip with a garbage header: %q", audit)
	}
}

// TestTrustedProxyForwardedFor: from a peer listed in TrustedProxies, the
// forwarded client IP counts: each client has its own sign-in budget, and the
// audit log and sessions record the client, not the proxy.
func TestTrustedProxyForwardedFor(t *testing.T) {
	env := webtest.New(t, webtest.Options{SignInLimit: 3, TrustedProxies: "127.0.0.1/32, ::1"})
	anon := env.NewAPI("")
	for i := 0; i < 6; i++ {
		r := anon.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-password"},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d from its own client IP: %d, want 401", i+1, r.Status)
		}
	}
	// The same client behind the proxy is limited.
	for i := 0; i < 4; i++ {
		r := anon.Do(http.MethodPost, "/api/auth/token", map[string]any{"email": fmt.Sprintf("again%d@example.com", i), "password": "wrong-password"},
			"X-Forwarded-For", "203.0.113.9")
		if i == 3 && r.Status != http.StatusTooManyRequests {
			t.Fatalf("4th attempt from one client behind the proxy: %d", r.Status)
		}
	}

	if st := signUpForm(t, env, "ann@example.com", "X-Forwarded-For", "203.0.113.7"); st != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", st)
	}
	audit, session := ipsOf(t, env, "ann@example.com")
	if audit != "203.0.113.7" || session != "203.0.113.7" {
		t.Errorf("behind a trusted proxy: audit ip %q, session ip %q; want 203.0.113.7", audit, session)
	}
	if st := signUpForm(t, env, "bob@example.com", "X-Real-IP", "203.0.113.8"); st != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", st)
	}
	if audit, _ := ipsOf(t, env, "bob@example.com"); audit != "203.0.113.8" {
		t.Errorf("X-Real-IP behind a trusted proxy: audit ip %q", audit)
	}
}

func TestTrustedProxiesConfig(t *testing.T) {
	env := map[string]string{"GUILDHALL_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"}
	c, err := web.LoadConfig(func(k string) string { return env[k] }, nil)
	if err != nil || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Fatalf("env: %v %v", c.TrustedProxies, err)
	}
	c, err = web.LoadConfig(func(k string) string { return env[k] }, []string{"-trusted-proxies", "fd00::/8"})
	if err != nil || len(c.TrustedProxies) != 1 || c.TrustedProxies[0].String() != "fd00::/8" {
		t.Fatalf("flag: %v %v", c.TrustedProxies, err)
	}
	if _, err := web.LoadConfig(func(k string) string { return map[string]string{"GUILDHALL_TRUSTED_PROXIES": "proxy.local"}[k] }, nil); err == nil {
		t.Fatal("a host name was accepted as a trusted proxy")
	}
	if c, _ := web.LoadConfig(func(string) string { return "" }, nil); len(c.TrustedProxies) != 0 {
		t.Fatal("trusted proxies by default")
	}
}
