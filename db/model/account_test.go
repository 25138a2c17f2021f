package model

import (
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice@Example.COM", "alice@example.com"},
		{"  bob@example.com\n", "bob@example.com"},
		{"carol@example.com", "carol@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	local := strings.Repeat("a", 64)
	longDomain := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com"
	tests := []struct {
		in   string
		ok   bool
		frag string
	}{
		{"alice@example.com", true, ""},
		{"a.b+tag@mail.example.co.uk", true, ""},
		{"x@y.io", true, ""},
		{"  alice@example.com  ", true, ""},
		{"", false, "required"},
		{"   ", false, "required"},
		{"alice", false, "valid"},
		{"alice@", false, "valid"},
		{"@example.com", false, "valid"},
		{"alice@localhost", false, "valid"},
		{"alice@example.", false, "valid"},
		{"alice@.example.com", false, "valid"},
		{"alice@example..com", false, "valid"},
		{"Alice <alice@example.com>", false, "valid"},
		{"<alice@example.com>", false, "valid"},
		{"alice@example.com, bob@example.com", false, "valid"},
		{"alice smith@example.com", false, "valid"},
		{"alice@exa mple.com", false, "valid"},
		{local + "@" + longDomain, false, "254"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateEmail(tt.in)
			if tt.ok {
				wantCode(t, err, "", "")
				return
			}
			wantCode(t, err, CodeValidation, "email")
			if msg := err.(*Error).Fields["email"]; !strings.Contains(msg, tt.frag) {
				t.Errorf("message %q should contain %q", msg, tt.frag)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"exactly 10", "0123456789", true},
		{"long passphrase", "correct horse battery staple", true},
		{"9 chars", "012345678", false},
		{"empty", "", false},
		{"10 non-ASCII chars", "ééééééééééé"[:20], true},
		{"72 bytes", strings.Repeat("x", 72), true},
		{"73 bytes (bcrypt would truncate)", strings.Repeat("x", 73), false},
		{"9 multibyte chars is still short", strings.Repeat("日", 9), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePassword(tt.pw)
			if tt.ok {
				wantCode(t, err, "", "")
			} else {
				wantCode(t, err, CodeValidation, "password")
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string
		ok    bool
		msg   string
	}{
		{"plain", "Alice Smith", "name", true, ""},
		{"trimmed", "  Acme  ", "display_name", true, ""},
		{"unicode", "Zoë 日本", "name", true, ""},
		{"100 chars", strings.Repeat("é", 100), "name", true, ""},
		{"100 after trim", " " + strings.Repeat("a", 100) + " ", "name", true, ""},
		{"empty", "", "name", false, "Name is required."},
		{"blank", "   \t", "display_name", false, "Display name is required."},
		{"101 chars", strings.Repeat("a", 101), "team_name", false, "Team name must be at most 100 characters."},
		{"newline", "Acme\nCorp", "name", false, "Name cannot contain line breaks or control characters."},
		{"bad utf8", "Acme\xff", "name", false, "Name is not valid text."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.in, tt.field)
			if tt.ok {
				wantCode(t, err, "", "")
				return
			}
			wantCode(t, err, CodeValidation, tt.field)
			if got := err.(*Error).Fields[tt.field]; got != tt.msg {
				t.Errorf("message %q, want %q", got, tt.msg)
			}
		})
	}
}

// TestValidText: free text PostgreSQL can store: valid UTF-8 without NUL.
func TestValidText(t *testing.T) {
	for s, want := range map[string]bool{
		"":                  true,
		"plain text":        true,
		"lines\nand\ttabs":  true,
		"ünïcødé ✓":         true,
		"nul \x00 inside":   false,
		"\xff invalid utf8": false,
		"half \xe2\x82":     false,
	} {
		if got := ValidText(s); got != want {
			t.Errorf("ValidText(%q) = %v, want %v", s, got, want)
		}
	}
}
