package model

import (
	"strings"
	"testing"
)

func TestValidateSlug(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		frag string // part of the message when refused
	}{
		{"acme", true, ""},
		{"ab", true, ""},
		{"a1", true, ""},
		{"42", true, ""},
		{"acme-corp", true, ""},
		{"acme--corp", true, ""},
		{strings.Repeat("a", 39), true, ""},
		{"admin-org", true, ""},
		{"", false, "required"},
		{"a", false, "2 to 39"},
		{strings.Repeat("a", 40), false, "2 to 39"},
		{"Acme", false, "lowercase"},
		{"acme corp", false, "lowercase"},
		{"acme_corp", false, "lowercase"},
		{"acme.corp", false, "lowercase"},
		{"café", false, "lowercase"},
		{"-acme", false, "hyphen"},
		{"acme-", false, "hyphen"},
		{"--", false, "hyphen"},
		{"api", false, "reserved"},
		{"admin", false, "reserved"},
		{"settings", false, "reserved"},
		{"new", false, "reserved"},
		{"login", false, "reserved"},
		{"healthz", false, "reserved"},
		{"personal", false, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateSlug(tt.in)
			if tt.ok {
				wantCode(t, err, "", "")
				return
			}
			wantCode(t, err, CodeValidation, "slug")
			if msg := err.(*Error).Fields["slug"]; !strings.Contains(msg, tt.frag) {
				t.Errorf("message %q should contain %q", msg, tt.frag)
			}
		})
	}
}

func TestReservedSlugs(t *testing.T) {
	for _, s := range []string{"api", "static", "new", "settings", "admin", "login", "logout",
		"signup", "orgs", "org", "teams", "agents", "members", "packages", "wallet", "policies",
		"approvals", "audit", "sso", "usage", "tokens", "profile", "invitations", "verify", "dev",
		"healthz", "readyz", "workspace", "personal", "help", "about", "www"} {
		if !IsReservedSlug(s) {
			t.Errorf("%q should be reserved", s)
		}
	}
	for _, s := range ReservedSlugs {
		if s != strings.ToLower(s) {
			t.Errorf("reserved slug %q is not lowercase", s)
		}
	}
	if IsReservedSlug("acme") {
		t.Error("acme is not reserved")
	}
}

func TestSlugify(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Acme", "acme"},
		{"Acme Corp", "acme-corp"},
		{"  Acme   Corp!!  ", "acme-corp"},
		{"ACME_corp.io", "acme-corp-io"},
		{"Café Müller", "cafe-muller"},
		{"Smørrebrød & Søn", "smorrebrod-son"},
		{"Straße", "strasse"},
		{"Łódź Labs", "lodz-labs"},
		{"Æther", "aether"},
		{"--hello--world--", "hello-world"},
		{"Team 42", "team-42"},
		{"日本", "new-org"},
		{"", "new-org"},
		{"!!!", "new-org"},
		{"X", "x-org"},
		{"é", "e-org"},
		{"Admin", "admin-org"},
		{"API", "api-org"},
		{"Settings", "settings-org"},
		{strings.Repeat("a", 50), strings.Repeat("a", 39)},
		{strings.Repeat("a", 38) + " bcd", strings.Repeat("a", 38)},
		{strings.Repeat("ab ", 20), "ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Slugify(tt.in)
			if got != tt.want {
				t.Errorf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if err := ValidateSlug(got); err != nil {
				t.Errorf("Slugify(%q) = %q is not a valid slug: %v", tt.in, got, err)
			}
		})
	}
}

// FuzzSlugify: whatever the display name, the result is a valid slug.
func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"", "a", "Admin", "Café", "-", "a-", strings.Repeat("x-", 30), "\x00\xff", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Slugify(s)
		if err := ValidateSlug(got); err != nil {
			t.Fatalf("Slugify(%q) = %q: %v", s, got, err)
		}
	})
}

func TestSlugCandidate(t *testing.T) {
	long := strings.Repeat("a", 39)
	tests := []struct {
		base string
		n    int
		want string
	}{
		{"acme", 0, "acme"},
		{"acme", 1, "acme"},
		{"acme", 2, "acme-2"},
		{"acme", 3, "acme-3"},
		{"acme", 10, "acme-10"},
		{long, 1, long},
		{long, 2, strings.Repeat("a", 37) + "-2"},
		{long, 100, strings.Repeat("a", 35) + "-100"},
		{strings.Repeat("a", 36) + "-bc", 2, strings.Repeat("a", 36) + "-2"},
		{strings.Repeat("a", 37) + "-b", 2, strings.Repeat("a", 37) + "-2"},
		{strings.Repeat("a", 36) + "-b-c", 2, strings.Repeat("a", 36) + "-2"},
	}
	for _, tt := range tests {
		got := SlugCandidate(tt.base, tt.n)
		if got != tt.want {
			t.Errorf("SlugCandidate(%q, %d) = %q, want %q", tt.base, tt.n, got, tt.want)
		}
		if err := ValidateSlug(got); err != nil {
			t.Errorf("SlugCandidate(%q, %d) = %q is invalid: %v", tt.base, tt.n, got, err)
		}
	}
	// Every candidate of a slugified name is valid and distinct.
	seen := map[string]bool{}
	base := Slugify(strings.Repeat("Long Name ", 10))
	for n := 1; n <= 1000; n++ {
		c := SlugCandidate(base, n)
		if seen[c] {
			t.Fatalf("candidate %q repeated at n=%d", c, n)
		}
		seen[c] = true
		if err := ValidateSlug(c); err != nil {
			t.Fatalf("candidate %q invalid: %v", c, err)
		}
	}
}
