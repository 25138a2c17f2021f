package model

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Slug length bounds (SPEC 4), the same as GitHub's for organizations.
const (
	MinSlugLength = 2
	MaxSlugLength = 39
)

// ReservedSlugs are refused as org slugs because they are, or may become, the
// first segment of an app or API path, or would confuse people reading a URL.
var ReservedSlugs = []string{
	"about", "account", "accounts", "admin", "agent", "agents", "api", "app",
	"approvals", "assets", "audit", "auth", "billing", "blog", "callback", "cli",
	"dashboard", "dev", "docs", "entitlements", "explore", "guildhall",
	"healthz", "help", "invitations", "invite", "join", "login", "logout", "me",
	"members", "new", "oauth", "oidc", "org", "orgs", "organization",
	"organizations", "outbox", "packages", "personal", "policies", "profile",
	"public", "readyz", "resources", "root", "saml", "search", "settings",
	"signin", "signout", "signup", "sso", "static", "status", "support",
	"system", "team", "teams", "tokens", "transfers", "usage", "user", "users",
	"verify", "wallet", "workspace", "workspaces", "www",
}

// IsReservedSlug reports whether s is one of ReservedSlugs.
func IsReservedSlug(s string) bool { return slices.Contains(ReservedSlugs, s) }

// ValidateSlug checks a slug a user typed: 2 to 39 lowercase letters, digits
// and hyphens, not starting or ending with a hyphen, not reserved. Callers
// lowercase and trim input first if they want to be lenient; a slug is stored
// exactly as validated.
func ValidateSlug(s string) error {
	switch {
	case s == "":
		return InvalidField("slug", "Slug is required.")
	case len(s) < MinSlugLength || len(s) > MaxSlugLength:
		return InvalidField("slug", "Slug must be 2 to 39 characters long.")
	}
	for _, c := range s {
		if !isSlugChar(c) {
			return InvalidField("slug", "Slug may contain only lowercase letters, digits and hyphens.")
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return InvalidField("slug", "Slug cannot start or end with a hyphen.")
	}
	if IsReservedSlug(s) {
		return InvalidField("slug", "The slug \""+s+"\" is reserved: choose another.")
	}
	return nil
}

func isSlugChar(c rune) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
}

// foldTable maps common accented Latin letters (already lowercased) to ASCII,
// so "Café Müller" becomes "cafe-muller" rather than "caf-m-ller". It is not
// exhaustive; anything else that is not ASCII becomes a separator.
var foldTable = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ā': "a", 'ă': "a", 'ą': "a",
	'æ': "ae", 'ç': "c", 'ć': "c", 'č': "c", 'ĉ': "c", 'ċ': "c",
	'ď': "d", 'đ': "d", 'ð': "d",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'ğ': "g", 'ģ': "g", 'ĥ': "h", 'ħ': "h",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'į': "i", 'ı': "i",
	'ĵ': "j", 'ķ': "k", 'ĺ': "l", 'ļ': "l", 'ľ': "l", 'ł': "l",
	'ñ': "n", 'ń': "n", 'ņ': "n", 'ň': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ō': "o", 'ő': "o", 'œ': "oe",
	'ŕ': "r", 'ř': "r", 'ś': "s", 'ş': "s", 'š': "s", 'ș': "s", 'ß': "ss",
	'ţ': "t", 'ť': "t", 'ț': "t", 'þ': "th",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ű': "u", 'ų': "u",
	'ý': "y", 'ÿ': "y", 'ź': "z", 'ż': "z", 'ž': "z",
}

// Slugify makes a valid slug from a display name, for orgs created without
// one: lowercase, accents folded to ASCII, every other run of characters a
// single hyphen, cut to 39 characters. A single character gets "-org"
// ("X" → "x-org"); nothing usable gives "new-org" (plain "org" is reserved);
// a reserved result gets "-org" appended ("Admin" → "admin-org"). So the
// result always passes ValidateSlug.
// Uniqueness is the caller's job (SlugCandidate).
func Slugify(displayName string) string {
	var b strings.Builder
	hyphen := false // a separator is pending
	for _, c := range displayName {
		c = unicode.ToLower(c)
		var s string
		switch {
		case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
			s = string(c)
		default:
			s = foldTable[c]
		}
		if s == "" {
			hyphen = true
			continue
		}
		if hyphen && b.Len() > 0 {
			b.WriteByte('-')
		}
		hyphen = false
		b.WriteString(s)
	}
	slug := trimSlug(b.String(), MaxSlugLength)
	switch {
	case slug == "":
		slug = "new-org"
	case len(slug) < MinSlugLength:
		slug += "-org"
	}
	if IsReservedSlug(slug) {
		slug = trimSlug(slug, MaxSlugLength-len("-org")) + "-org"
	}
	return slug
}

// trimSlug cuts s to at most n bytes (slugs are ASCII) without leaving a
// trailing hyphen.
func trimSlug(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Trim(s, "-")
}

// SlugCandidate is the n-th slug to try when base is taken: n ≤ 1 gives base,
// n = 2 gives "base-2", and so on. The base is shortened so the candidate stays
// within 39 characters.
func SlugCandidate(base string, n int) string {
	if n <= 1 {
		return base
	}
	suffix := "-" + strconv.Itoa(n)
	return trimSlug(base, MaxSlugLength-len(suffix)) + suffix
}
