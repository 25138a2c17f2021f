package model

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"plain", 3, "pla"},
		{"héllo", 2, "h"}, // é is two bytes: not split
		{"héllo", 3, "hé"},
		{"日本語", 4, "日"},
		{"日本語", 2, ""},
		{"a\x00b", 10, "ab"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"\xc0\xaf", 10, "\uFFFD"}, // overlong '/' is invalid, not a slash
		{"🙂🙂", 5, "🙂"},
		{"abc", 0, ""},
	} {
		got := CleanText(c.in, c.max)
		if got != c.want {
			t.Errorf("CleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if !utf8.ValidString(got) || strings.ContainsRune(got, 0) || len(got) > c.max {
			t.Errorf("CleanText(%q, %d) = %q is not clean", c.in, c.max, got)
		}
	}
	for _, c := range []struct {
		in   string
		want bool
	}{{"ok", true}, {"日本", true}, {"", true}, {"a\x00", false}, {"\xff", false}, {"\xc0\x80", false}, {"\xed\xa0\x80", false}} {
		if ValidText(c.in) != c.want {
			t.Errorf("ValidText(%q) != %v", c.in, c.want)
		}
	}
}

func TestRedactLinkSecrets(t *testing.T) {
	secret := "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"
	for _, c := range []struct{ in, want string }{
		{"Open https://g.example/verify/" + secret + " now", "Open https://g.example/verify/[redacted] now"},
		{`<a href="https://g.example/invitations/` + secret + `">` + "https://g.example/invitations/" + secret + "</a>", `<a href="https://g.example/invitations/[redacted]">https://g.example/invitations/[redacted]</a>`},
		{"https://g.example/agent-transfers/" + secret + "?x=1", "https://g.example/agent-transfers/[redacted]?x=1"},
		{"https://g.example/reset?token=" + secret, "https://g.example/reset?token=[redacted]"},
		{"Join acme-industries-international on https://g.example/orgs/acme", "Join acme-industries-international on https://g.example/orgs/acme"},
		{"", ""},
	} {
		if got := RedactLinkSecrets(c.in); got != c.want {
			t.Errorf("RedactLinkSecrets(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
