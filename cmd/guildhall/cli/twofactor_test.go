package cli

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"guildhall/web/webtest"
)

func TestLoginTwoFactor(t *testing.T) {
	h := newHarness(t)
	c := h.env.SignUpVerified("alice@example.com", "Alice")
	c.Post("/profile/two-factor", nil)
	m := regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`).FindStringSubmatch(c.Get("/profile/two-factor").Body)
	if m == nil {
		t.Fatal("no secret on the setup page")
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	code, _ := totp.GenerateCode(secret, h.env.Clock.Now())
	if r := c.Post("/profile/two-factor/confirm", url.Values{"code": {code}}); r.Status != http.StatusOK {
		t.Fatalf("confirm: %d", r.Status)
	}

	// Without a code: asked for one; a wrong one fails.
	h.env.Clock.Advance(30 * time.Second)
	r := h.run(webtest.Password+"\n000000\n", "login", "--email", "alice@example.com", "--password-stdin")
	expect(t, r, ExitError, nil, []string{"Two-factor code: ", "(unauthorized)"})
	code, _ = totp.GenerateCode(secret, h.env.Clock.Now())
	r = h.run(webtest.Password+"\n"+code+"\n", "login", "--email", "alice@example.com", "--password-stdin")
	expect(t, r, ExitOK, []string{"Logged in to"}, []string{"Two-factor code: "})
	// With --otp nothing is asked; a used code is refused.
	r = h.run(webtest.Password+"\n", "login", "--email", "alice@example.com", "--password-stdin", "--otp", code)
	expect(t, r, ExitError, nil, []string{"(unauthorized)"})
	h.env.Clock.Advance(30 * time.Second)
	code, _ = totp.GenerateCode(secret, h.env.Clock.Now())
	r = h.run(webtest.Password+"\n", "login", "--email", "alice@example.com", "--password-stdin", "--otp", code)
	expect(t, r, ExitOK, []string{"Logged in to"}, nil)
	if strings.Contains(r.stderr, "Two-factor code") {
		t.Error("asked for a code given with --otp")
	}
}
