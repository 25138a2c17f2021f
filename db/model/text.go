package model

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// CleanText makes s safe to store: invalid UTF-8 becomes U+FFFD and NUL bytes
// are dropped (PostgreSQL refuses both in text), then it is cut to at most
// max bytes at a rune boundary, so a multi-byte character is never split.
// For values we keep but did not ask for (a user agent, a mail server's
// error); fields a person typed are validated instead.
func CleanText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	return TruncateUTF8(s, max)
}

// TruncateUTF8 cuts s to at most max bytes without splitting a rune.
func TruncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// linkSecret is a secret in a link: a long base64url run right after a
// slash or an equals sign (/verify/<secret>, ?token=<secret>). Secrets are
// 43 characters (db.NewSecret); slugs and words are shorter.
var linkSecret = regexp.MustCompile(`([/=])[A-Za-z0-9_-]{32,}`)

// RedactedSecret replaces a link secret in a delivered mail.
const RedactedSecret = "[redacted]"

// RedactLinkSecrets removes the secrets from the links of a mail body, so a
// delivered message can be kept without a usable link in the database.
func RedactLinkSecrets(s string) string {
	return linkSecret.ReplaceAllString(s, "${1}"+RedactedSecret)
}
