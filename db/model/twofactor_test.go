package model

import "testing"

func TestTwoFactorGate(t *testing.T) {
	team := Org{Kind: OrgTeam, DisplayName: "Acme", RequireTwoFactor: true}
	cases := []struct {
		name string
		org  Org
		acc  Account
		want Code
	}{
		{"required, none", team, Account{}, CodeTwoFactorRequired},
		{"required, has it", team, Account{TwoFactor: true}, ""},
		{"not required", Org{Kind: OrgTeam}, Account{}, ""},
		{"personal never", Org{Kind: OrgPersonal, RequireTwoFactor: true}, Account{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, TwoFactorGate(c.org, c.acc), c.want, "") })
	}
}

func TestCanRequireTwoFactor(t *testing.T) {
	team, personal := Org{Kind: OrgTeam}, Org{Kind: OrgPersonal}
	cases := []struct {
		name    string
		org     Org
		role    Role
		on, has bool
		want    Code
	}{
		{"owner with 2FA on", team, RoleOwner, true, true, ""},
		{"owner without 2FA on", team, RoleOwner, true, false, CodeValidation},
		{"owner without 2FA off", team, RoleOwner, false, false, ""},
		{"admin with 2FA on", team, RoleAdmin, true, true, ""},
		{"member", team, RoleMember, true, true, CodeForbidden},
		{"billing", team, RoleBilling, false, true, CodeForbidden},
		{"personal", personal, RoleOwner, true, true, CodeValidation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, CanRequireTwoFactor(c.org, c.role, c.on, c.has), c.want, "") })
	}
}

func TestNormalizeOTP(t *testing.T) {
	for in, want := range map[string]string{" 123 456 ": "123456", "ABCDE-FGHIJ": "abcdefghij", "12-34-56": "123456"} {
		if got := NormalizeOTP(in); got != want {
			t.Errorf("NormalizeOTP(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{"123456": true, "12345": false, "12345a": false, "1234567": false} {
		if IsTOTPCode(in) != want {
			t.Errorf("IsTOTPCode(%q) != %v", in, want)
		}
	}
}

func TestDeviceLabel(t *testing.T) {
	for ua, want := range map[string]string{
		"": "Unknown device",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36":            "Chrome on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0":                                          "Firefox on Windows",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0 Safari/537.36":                 "Headless Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 Edg/130.0":                 "Edge on Windows",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36":                  "Chrome on Android",
		"curl/8.0": "curl",
	} {
		if got := DeviceLabel(ua); got != want {
			t.Errorf("DeviceLabel(%q) = %q, want %q", ua, got, want)
		}
	}
}
