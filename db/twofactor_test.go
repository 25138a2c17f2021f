package db_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// tfClock is a settable clock for code steps.
type tfClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tfClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *tfClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func tfStore(t *testing.T) (*db.Store, *tfClock) {
	t.Helper()
	clock := &tfClock{t: time.Date(2026, 5, 1, 12, 0, 5, 0, time.UTC)}
	return db.New(dbtest.New(t), db.WithFastPasswordHashing(), db.WithClock(clock.Now)), clock
}

func tfCount(t *testing.T, s *db.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, q, args...); err != nil {
		t.Fatalf("count %q: %v", q, err)
	}
	return n
}

func wantCodeOf(t *testing.T, err error, code model.Code, what string) {
	t.Helper()
	if model.CodeOf(err) != code {
		t.Fatalf("%s: want %s, got %v", what, code, err)
	}
}

// enrol turns TOTP on for actor and returns the secret and recovery codes.
func enrol(t *testing.T, s *db.Store, clock *tfClock, box *db.SecretBox, actor model.Actor) (string, []string) {
	t.Helper()
	ctx := context.Background()
	key, err := s.BeginTOTP(ctx, actor, box)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), clock.Now())
	codes, err := s.ConfirmTOTP(ctx, actor, box, code)
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return key.Secret(), codes
}

func TestSecretBox(t *testing.T) {
	box := db.NewSecretBox("server-secret")
	sealed := box.Seal(7, []byte("raw totp secret"))
	if bytes.Contains(sealed, []byte("raw totp secret")) {
		t.Fatal("sealed value shows the secret")
	}
	if got, err := box.Open(7, sealed); err != nil || string(got) != "raw totp secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := box.Open(8, sealed); err == nil {
		t.Fatal("a sealed value opened for another account")
	}
	if _, err := db.NewSecretBox("other-secret").Open(7, sealed); err == nil {
		t.Fatal("a sealed value opened under another server secret")
	}
}

func TestTOTPEnrolVerifyReplayRecovery(t *testing.T) {
	s, clock := tfStore(t)
	ctx := context.Background()
	box := db.NewSecretBox("test")
	acc, actor := signup(t, s, "ada@example.com")

	key, err := s.BeginTOTP(ctx, actor, box)
	if err != nil {
		t.Fatal(err)
	}
	// Until confirmed, the account has no second factor.
	if a, _ := s.AccountByID(ctx, acc.ID); a.TwoFactor {
		t.Fatal("two-factor on before confirmation")
	}
	again, err := s.PendingTOTP(ctx, actor, box)
	if err != nil || again.Secret() != key.Secret() {
		t.Fatalf("pending key differs: %v", err)
	}
	// The secret is not stored in clear.
	var sealed []byte
	if err := s.DB().Get(&sealed, `SELECT secret_enc FROM two_factor_totp WHERE account_id = $1`, acc.ID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(key.Secret())) {
		t.Fatal("TOTP secret stored in clear")
	}
	_, err = s.ConfirmTOTP(ctx, actor, box, "000000")
	wantCodeOf(t, err, model.CodeValidation, "wrong confirmation code")
	code, _ := totp.GenerateCode(key.Secret(), clock.Now())
	codes, err := s.ConfirmTOTP(ctx, actor, box, code)
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm: %d codes, %v", len(codes), err)
	}
	if a, _ := s.AccountByID(ctx, acc.ID); !a.TwoFactor {
		t.Fatal("two-factor not on after confirmation")
	}
	if n := tfCount(t, s, `SELECT count(*) FROM two_factor_recovery_codes WHERE account_id = $1 AND code_hash = $2`, acc.ID, codes[0]); n != 0 {
		t.Fatal("recovery code stored in clear")
	}
	_, err = s.BeginTOTP(ctx, actor, box)
	wantCodeOf(t, err, model.CodeConflict, "second enrolment while on")

	signIn := model.Actor{IP: "10.0.0.1"}
	// The code that confirmed enrolment cannot sign in: same step.
	wantCodeOf(t, s.VerifySecondFactor(ctx, signIn, box, acc.ID, code), model.CodeValidation, "confirmation code replayed")
	clock.Add(30 * time.Second)
	code, _ = totp.GenerateCode(key.Secret(), clock.Now())
	if err := s.VerifySecondFactor(ctx, signIn, box, acc.ID, code[:3]+" "+code[3:]); err != nil {
		t.Fatalf("current code with a space: %v", err)
	}
	wantCodeOf(t, s.VerifySecondFactor(ctx, signIn, box, acc.ID, code), model.CodeValidation, "replayed code")
	// A code from the previous step is within the window but older than the last used one.
	prev, _ := totp.GenerateCode(key.Secret(), clock.Now().Add(-30*time.Second))
	wantCodeOf(t, s.VerifySecondFactor(ctx, signIn, box, acc.ID, prev), model.CodeValidation, "older step")
	// The next step's code works (clock drift), once.
	next, _ := totp.GenerateCode(key.Secret(), clock.Now().Add(30*time.Second))
	if err := s.VerifySecondFactor(ctx, signIn, box, acc.ID, next); err != nil {
		t.Fatalf("next step: %v", err)
	}
	// Far away steps fail.
	clock.Add(10 * time.Minute)
	old, _ := totp.GenerateCode(key.Secret(), clock.Now().Add(-5*time.Minute))
	wantCodeOf(t, s.VerifySecondFactor(ctx, signIn, box, acc.ID, old), model.CodeValidation, "stale code")

	// Recovery codes work once each, in any case and with or without the dash.
	if err := s.VerifySecondFactor(ctx, signIn, box, acc.ID, strings.ToUpper(codes[0])); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	wantCodeOf(t, s.VerifySecondFactor(ctx, signIn, box, acc.ID, codes[0]), model.CodeValidation, "recovery code reused")
	if err := s.VerifySecondFactor(ctx, signIn, box, acc.ID, strings.ReplaceAll(codes[1], "-", "")); err != nil {
		t.Fatalf("recovery code without dash: %v", err)
	}
	st, err := s.TwoFactorStatus(ctx, acc.ID)
	if err != nil || !st.TOTP || st.RecoveryLeft != 8 || !st.Enabled() {
		t.Fatalf("status %+v %v", st, err)
	}
	wantCodeOf(t, s.VerifySecondFactor(ctx, signIn, box, acc.ID, "nonsense\x00"), model.CodeValidation, "NUL code")

	// Audit: enabled once, recovery used twice, failures recorded; never a code.
	org := acc.PersonalOrgID
	for action, want := range map[string]int{"two_factor.enabled": 1, "two_factor.recovery_used": 2} {
		if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2 AND outcome = 'success'`, org, action); n != want {
			t.Errorf("%s: %d events, want %d", action, n, want)
		}
	}
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'two_factor.challenge_failed' AND outcome = 'denied'`, org); n != 6 {
		t.Errorf("challenge_failed: %d events, want 6", n)
	}
	for _, c := range append([]string{code, codes[0], key.Secret()}, codes[1]) {
		if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE audit_events::text ILIKE '%' || $1 || '%'`, c); n != 0 {
			t.Errorf("audit log holds a code or secret")
		}
	}
}

func TestTOTPCodeAcceptedOnceUnderConcurrency(t *testing.T) {
	s, clock := tfStore(t)
	ctx := context.Background()
	box := db.NewSecretBox("test")
	acc, actor := signup(t, s, "ada@example.com")
	secret, _ := enrol(t, s, clock, box, actor)
	clock.Add(30 * time.Second)
	code, _ := totp.GenerateCode(secret, clock.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.VerifySecondFactor(ctx, model.Actor{}, box, acc.ID, code) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("one code accepted %d times", ok)
	}
}

func TestRecoveryCodeUsedOnceUnderConcurrency(t *testing.T) {
	s, clock := tfStore(t)
	ctx := context.Background()
	box := db.NewSecretBox("test")
	acc, actor := signup(t, s, "ada@example.com")
	_, codes := enrol(t, s, clock, box, actor)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.VerifySecondFactor(ctx, model.Actor{}, box, acc.ID, codes[0]) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("one recovery code accepted %d times", ok)
	}
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE action = 'two_factor.recovery_used'`); n != 1 {
		t.Fatalf("recovery_used events %d", n)
	}
}

func TestDisableTwoFactor(t *testing.T) {
	s, clock := tfStore(t)
	ctx := context.Background()
	box := db.NewSecretBox("test")
	acc, actor := signup(t, s, "ada@example.com")
	secret, _ := enrol(t, s, clock, box, actor)
	wantCodeOf(t, s.DisableTwoFactor(ctx, actor, box, "", ""), model.CodeValidation, "nothing given")
	wantCodeOf(t, s.DisableTwoFactor(ctx, actor, box, "wrong-password", ""), model.CodeValidation, "wrong password")
	wantCodeOf(t, s.DisableTwoFactor(ctx, actor, box, "", "123456"), model.CodeValidation, "wrong code")
	clock.Add(30 * time.Second)
	code, _ := totp.GenerateCode(secret, clock.Now())
	if err := s.DisableTwoFactor(ctx, actor, box, "", code); err != nil {
		t.Fatalf("disable with a code: %v", err)
	}
	if a, _ := s.AccountByID(ctx, acc.ID); a.TwoFactor {
		t.Fatal("still on")
	}
	if n := tfCount(t, s, `SELECT count(*) FROM two_factor_recovery_codes WHERE account_id = $1`, acc.ID); n != 0 {
		t.Fatal("recovery codes kept")
	}
	enrol(t, s, clock, box, actor)
	if err := s.DisableTwoFactor(ctx, actor, box, "long-enough-password", ""); err != nil {
		t.Fatalf("disable with the password: %v", err)
	}
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'two_factor.disabled' AND outcome = $2`, acc.PersonalOrgID, "success"); n != 2 {
		t.Fatalf("disabled events %d", n)
	}
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'two_factor.disabled' AND outcome = $2`, acc.PersonalOrgID, "denied"); n != 3 {
		t.Fatalf("denied disable events %d", n)
	}
}

func TestRequireTwoFactorSetting(t *testing.T) {
	s, clock := tfStore(t)
	ctx := context.Background()
	box := db.NewSecretBox("test")
	owner, ownerActor := signup(t, s, "owner@example.com")
	member, memberActor := signup(t, s, "member@example.com")
	admin, adminActor := signup(t, s, "admin@example.com")
	ws, err := s.CreateOrg(ctx, ownerActor, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for id, role := range map[int64]string{member.ID: "member", admin.ID: "admin"} {
		if _, err := s.DB().Exec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, $3)`, ws.ID, id, role); err != nil {
			t.Fatal(err)
		}
	}
	on, off := true, false
	set := func(actor model.Actor, orgID int64, v *bool) error {
		_, err := s.UpdateOrg(ctx, actor, orgID, db.UpdateOrgInput{RequireTwoFactor: v})
		return err
	}
	wantCodeOf(t, set(ownerActor, ws.ID, &on), model.CodeValidation, "owner without 2FA")
	wantCodeOf(t, set(memberActor, ws.ID, &on), model.CodeForbidden, "member")
	enrol(t, s, clock, box, ownerActor)
	wantCodeOf(t, set(ownerActor, owner.PersonalOrgID, &on), model.CodeValidation, "personal workspace")
	if err := set(ownerActor, ws.ID, &on); err != nil {
		t.Fatalf("owner with 2FA: %v", err)
	}
	org, _ := s.OrgByID(ctx, ws.ID)
	if !org.RequireTwoFactor {
		t.Fatal("not stored")
	}
	// The gate: members without 2FA are refused, those with it pass.
	for _, c := range []struct {
		acc  int64
		want model.Code
	}{{owner.ID, ""}, {member.ID, model.CodeTwoFactorRequired}, {admin.ID, model.CodeTwoFactorRequired}} {
		a, _ := s.AccountByID(ctx, c.acc)
		if got := model.CodeOf(model.TwoFactorGate(org, a)); got != c.want {
			t.Errorf("gate for %s: %q, want %q", a.Email, got, c.want)
		}
	}
	// An admin without 2FA can turn it off but not on.
	if err := set(adminActor, ws.ID, &off); err != nil {
		t.Fatalf("admin turns off: %v", err)
	}
	wantCodeOf(t, set(adminActor, ws.ID, &on), model.CodeValidation, "admin without 2FA turns on")
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'org.updated' AND outcome = 'success'`, ws.ID); n != 2 {
		t.Fatalf("org.updated events %d", n)
	}
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'org.updated' AND outcome = 'denied'`, ws.ID); n != 1 {
		t.Fatalf("denied org.updated events %d", n)
	}
	// Members list carries each member's status.
	rows, _, err := s.Members(ctx, ownerActor, ws.ID, "", 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.TwoFactor != (r.AccountID == owner.ID) {
			t.Errorf("member %s two_factor %v", r.Email, r.TwoFactor)
		}
	}
}

func TestSessionsListAndRevoke(t *testing.T) {
	s, clock := tfStore(t)
	ctx := context.Background()
	acc, actor := signup(t, s, "ada@example.com")
	_, otherActor := signup(t, s, "bob@example.com")
	mine, _ := s.CreateSession(ctx, acc.ID, "10.0.0.1", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")
	clock.Add(time.Minute)
	phone, _ := s.CreateSession(ctx, acc.ID, "10.0.0.2", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
	_, _ = s.CreateSession(ctx, acc.ID, "10.0.0.3", "curl/8.0")
	list, err := s.Sessions(ctx, acc.ID, mine)
	if err != nil || len(list) != 3 || !list[0].Current || list[1].Current {
		t.Fatalf("sessions %+v %v", list, err)
	}
	// Another account cannot end my session: not found.
	wantCodeOf(t, s.RevokeSession(ctx, otherActor, list[1].ID), model.CodeNotFound, "other account")
	if err := s.RevokeSession(ctx, actor, list[1].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokeOtherSessions(ctx, actor, mine); err != nil || n != 1 {
		t.Fatalf("others: %d %v", n, err)
	}
	if _, err := s.SessionAccount(ctx, phone); model.CodeOf(err) != model.CodeUnauthorized {
		t.Fatalf("revoked session still works: %v", err)
	}
	if _, err := s.SessionAccount(ctx, mine); err != nil {
		t.Fatalf("own session ended: %v", err)
	}
	if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'session.revoked'`, acc.PersonalOrgID); n != 2 {
		t.Fatalf("session.revoked events %d", n)
	}
}

func TestPasskeysStore(t *testing.T) {
	s, _ := tfStore(t)
	ctx := context.Background()
	acc, actor := signup(t, s, "ada@example.com")
	_, eve := signup(t, s, "eve@example.com")
	_, err := s.AddPasskey(ctx, actor, "  ", []byte{1}, []byte(`{}`))
	wantCodeOf(t, err, model.CodeValidation, "blank name")
	pk, err := s.AddPasskey(ctx, actor, " YubiKey ", []byte{1}, []byte(`{"id":"AQ"}`))
	if err != nil || pk.Name != "YubiKey" {
		t.Fatalf("add: %+v %v", pk, err)
	}
	_, err = s.AddPasskey(ctx, eve, "Copy", []byte{1}, []byte(`{}`))
	wantCodeOf(t, err, model.CodeConflict, "same credential twice")
	if a, _ := s.AccountByID(ctx, acc.ID); !a.TwoFactor {
		t.Fatal("a passkey does not count as two-factor")
	}
	if err := s.UsePasskey(ctx, acc.ID, []byte{1}, []byte(`{"id":"AQ","n":2}`)); err != nil {
		t.Fatal(err)
	}
	wantCodeOf(t, s.UsePasskey(ctx, acc.ID, []byte{2}, []byte(`{}`)), model.CodeNotFound, "unknown credential")
	list, _ := s.Passkeys(ctx, acc.ID)
	if len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("passkeys %+v", list)
	}
	wantCodeOf(t, s.RemovePasskey(ctx, eve, pk.ID), model.CodeNotFound, "another account's passkey")
	if err := s.RemovePasskey(ctx, actor, pk.ID); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.AccountByID(ctx, acc.ID); a.TwoFactor {
		t.Fatal("still on after removing the only passkey")
	}
	for action, want := range map[string]int{"two_factor.enabled": 1, "two_factor.passkey_added": 1, "two_factor.passkey_removed": 1, "two_factor.disabled": 1} {
		if n := tfCount(t, s, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2`, acc.PersonalOrgID, action); n != want {
			t.Errorf("%s: %d events, want %d", action, n, want)
		}
	}
}
