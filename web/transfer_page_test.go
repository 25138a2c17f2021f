package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"guildhall/web/webtest"
)

// TestTransferPageRefusals: the ownership-transfer confirmation answers a
// non-owner with 403 (it used to show the page with 200), and a post naming
// another org's member is 404, as any other org's id (it used to be 422).
// Neither changes a role.
func TestTransferPageRefusals(t *testing.T) {
	env := webtest.New(t)
	owner := memberOrg(t, env, "owner@example.com", "Olive Owner", "Acme")
	acme := orgIDBySlug(t, env, "acme")
	admin := env.SignUpVerified("admin@example.com", "Ada Admin")
	tgJoin(t, env, acme, accountID(t, env, "admin@example.com"), "admin")
	env.SignUpVerified("member@example.com", "Mo Member")
	tgJoin(t, env, acme, accountID(t, env, "member@example.com"), "member")
	memberOrg(t, env, "stranger@example.com", "Sam Stranger", "Other")
	strangerID := accountID(t, env, "stranger@example.com")
	memberID := accountID(t, env, "member@example.com")

	if r := admin.Post("/workspace", url.Values{"org_id": {fmt.Sprint(acme)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("switch: %d", r.Status)
	}
	wantStatus(t, admin.Get(fmt.Sprintf("/members/%d/transfer", memberID)), http.StatusForbidden, "Only an owner can transfer ownership.")
	wantStatus(t, owner.Get(fmt.Sprintf("/members/%d/transfer", memberID)), http.StatusOK)
	wantStatus(t, owner.Post(fmt.Sprintf("/members/%d/transfer", strangerID), nil), http.StatusNotFound)
	if roleOf(t, env, acme, "owner@example.com") != "owner" || roleOf(t, env, acme, "member@example.com") != "member" {
		t.Fatal("a refused transfer changed a role")
	}
}
