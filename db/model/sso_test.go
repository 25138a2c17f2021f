package model

import (
	"testing"
	"time"
)

func TestValidateSSOConfig(t *testing.T) {
	meta := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"></EntityDescriptor>`
	cases := []struct {
		name      string
		in        SSOConfig
		hasSecret bool
		code      Code
		field     string
	}{
		{"oidc ok", SSOConfig{Protocol: "oidc", Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s"}, false, "", ""},
		{"oidc loopback http", SSOConfig{Protocol: "oidc", Issuer: "http://127.0.0.1:9000", ClientID: "c", ClientSecret: "s"}, false, "", ""},
		{"oidc plain http refused", SSOConfig{Protocol: "oidc", Issuer: "http://idp.example.com", ClientID: "c", ClientSecret: "s"}, false, CodeValidation, "issuer"},
		{"oidc no issuer", SSOConfig{Protocol: "oidc", ClientID: "c", ClientSecret: "s"}, false, CodeValidation, "issuer"},
		{"oidc no client id", SSOConfig{Protocol: "oidc", Issuer: "https://idp.example.com", ClientSecret: "s"}, false, CodeValidation, "client_id"},
		{"oidc no secret first time", SSOConfig{Protocol: "oidc", Issuer: "https://idp.example.com", ClientID: "c"}, false, CodeValidation, "client_secret"},
		{"oidc keep stored secret", SSOConfig{Protocol: "oidc", Issuer: "https://idp.example.com", ClientID: "c"}, true, "", ""},
		{"oidc issuer with user", SSOConfig{Protocol: "oidc", Issuer: "https://a:b@idp.example.com", ClientID: "c", ClientSecret: "s"}, false, CodeValidation, "issuer"},
		{"saml xml", SSOConfig{Protocol: "saml", MetadataXML: meta}, false, "", ""},
		{"saml url", SSOConfig{Protocol: "saml", MetadataURL: "https://idp.example.com/metadata"}, false, "", ""},
		{"saml neither", SSOConfig{Protocol: "saml"}, false, CodeValidation, "metadata_xml"},
		{"saml both", SSOConfig{Protocol: "saml", MetadataXML: meta, MetadataURL: "https://idp.example.com/m"}, false, CodeValidation, "metadata_url"},
		{"saml not metadata", SSOConfig{Protocol: "saml", MetadataXML: "<html/>"}, false, CodeValidation, "metadata_xml"},
		{"bad protocol", SSOConfig{Protocol: "ldap"}, false, CodeValidation, "protocol"},
		{"nul byte", SSOConfig{Protocol: "oidc", Issuer: "https://idp.example.com", ClientID: "c\x00", ClientSecret: "s"}, false, CodeValidation, "client_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, ValidateSSOConfig(tc.in.Normalize(), tc.hasSecret), tc.code, tc.field)
		})
	}
}

func TestSSOConfigHashAndEnforce(t *testing.T) {
	c := SSOConnection{Protocol: "oidc", Issuer: "https://idp.example.com", ClientID: "a", ClientSecretEnc: []byte{1, 2}, Enabled: true}
	c.ConfigHash = SSOConfigHash(c)
	wantCode(t, CanEnforce(c), CodeConflict, "") // never tested
	now := time.Now()
	c.TestedAt, c.TestedConfigHash = &now, c.ConfigHash
	wantCode(t, CanEnforce(c), "", "")

	changed := c
	changed.ClientID = "b"
	changed.ConfigHash = SSOConfigHash(changed)
	if changed.ConfigHash == c.ConfigHash {
		t.Fatal("a changed client id must change the hash")
	}
	wantCode(t, CanEnforce(changed), CodeConflict, "") // changing the config needs a new test

	resealed := c
	resealed.ClientSecretEnc = []byte{3, 4}
	if SSOConfigHash(resealed) == c.ConfigHash {
		t.Fatal("a new secret must change the hash")
	}
	disabled := c
	disabled.Enabled = false
	wantCode(t, CanEnforce(disabled), CodeConflict, "")
}

func TestDecideJIT(t *testing.T) {
	ok := SSOIdentity{Email: "Ann@Acme.test", EmailVerified: true}
	cases := []struct {
		name   string
		id     SSOIdentity
		domain bool
		exists bool
		want   JITAction
		code   Code
	}{
		{"new person", ok, true, false, JITCreate, ""},
		{"known account linked", ok, true, true, JITLink, ""},
		{"unverified email refused", SSOIdentity{Email: "ann@acme.test"}, true, true, JITRefuse, CodeForbidden},
		{"no email refused", SSOIdentity{EmailVerified: true}, true, false, JITRefuse, CodeForbidden},
		{"outside verified domains refused", ok, false, true, JITRefuse, CodeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecideJIT(tc.id, tc.domain, tc.exists)
			wantCode(t, err, tc.code, "")
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNormalizeDomain(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Acme.Test", "acme.test"},
		{" sub.acme.test. ", "sub.acme.test"},
		{"acme", ""},
		{"https://acme.test", ""},
		{"acme.test/path", ""},
		{"-acme.test", ""},
		{"a..test", ""},
		{"gmail.com", ""},
		{"", ""},
	}
	for _, tc := range cases {
		got, err := NormalizeDomain(tc.in)
		if tc.want == "" {
			wantCode(t, err, CodeValidation, "domain")
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("NormalizeDomain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if !TXTMatches([]string{"v=spf1 -all", " guildhall-verification=abc "}, "abc") || TXTMatches([]string{"guildhall-verification=abcd"}, "abc") {
		t.Fatal("TXTMatches")
	}
}

func TestSSOGate(t *testing.T) {
	const org = 7
	cases := []struct {
		name string
		f    SSOFacts
		want SSOGateResult
	}{
		{"not enforced", SSOFacts{Enforced: false, AtDomain: true, Role: RoleMember, SessionMethod: AuthPassword, OrgID: org}, GateAllow},
		{"email outside the domains", SSOFacts{Enforced: true, AtDomain: false, Role: RoleMember, SessionMethod: AuthPassword, OrgID: org}, GateAllow},
		{"member with password", SSOFacts{Enforced: true, AtDomain: true, Role: RoleMember, SessionMethod: AuthPassword, OrgID: org}, GateRefuse},
		{"admin with password", SSOFacts{Enforced: true, AtDomain: true, Role: RoleAdmin, SessionMethod: AuthPassword, OrgID: org}, GateRefuse},
		{"billing with password", SSOFacts{Enforced: true, AtDomain: true, Role: RoleBilling, SessionMethod: AuthPassword, OrgID: org}, GateRefuse},
		{"owner break-glass", SSOFacts{Enforced: true, AtDomain: true, Role: RoleOwner, SessionMethod: AuthPassword, OrgID: org}, GateBypass},
		{"member through this org's IdP", SSOFacts{Enforced: true, AtDomain: true, Role: RoleMember, SessionMethod: AuthSSO, SessionOrgID: org, OrgID: org}, GateAllow},
		{"member through another org's IdP", SSOFacts{Enforced: true, AtDomain: true, Role: RoleMember, SessionMethod: AuthSSO, SessionOrgID: 8, OrgID: org}, GateRefuse},
	}
	for _, tc := range cases {
		if got := SSOGate(tc.f); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSetupLinkState(t *testing.T) {
	now := time.Now()
	l := SSOSetupLink{ExpiresAt: now.Add(time.Hour)}
	if l.State(now) != "active" {
		t.Fatal(l.State(now))
	}
	l.UsedAt = &now
	if l.State(now) != "opened" {
		t.Fatal(l.State(now))
	}
	if l.State(now.Add(2*time.Hour)) != "expired" {
		t.Fatal("expired")
	}
	l.RevokedAt = &now
	if l.State(now) != "revoked" {
		t.Fatal("revoked")
	}
}
