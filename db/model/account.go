package model

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Account field limits (SPEC 15).
const (
	// MaxEmailLength is the longest address SMTP can carry (RFC 5321 path limit).
	MaxEmailLength = 254
	// MinPasswordLength is counted in characters, so non-ASCII passwords are not
	// penalised.
	MinPasswordLength = 10
	// MaxPasswordBytes is bcrypt's input limit: longer passwords would be
	// silently truncated (or refused) by the hash, so they are refused here.
	MaxPasswordBytes = 72
	// MaxNameLength bounds display names and other short names, in characters.
	MaxNameLength = 100
)

// NormalizeEmail is the form emails are stored and compared in: emails are
// unique case-insensitively (SPEC 1), so they are trimmed and lowercased once,
// before lookup and before storage.
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// ValidateEmail checks a (normalized) email address: a bare address, no
// display name or angle brackets, with a domain that has a dot, at most 254
// characters. It is deliberately loose beyond that: the verification email is
// the real test.
func ValidateEmail(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return InvalidField("email", "Email is required.")
	}
	if len(s) > MaxEmailLength {
		return InvalidField("email", "Email must be at most 254 characters.")
	}
	bad := InvalidField("email", "Enter a valid email address, like name@example.com.")
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return bad
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return bad
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return bad
	}
	return nil
}

// ValidatePassword checks a new password's length: at least 10 characters, at
// most 200 bytes. Length is the rule that matters; composition rules are not
// imposed.
func ValidatePassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return InvalidField("password", "Password must be at least "+strconv.Itoa(MinPasswordLength)+" characters.")
	}
	if len(pw) > MaxPasswordBytes {
		return InvalidField("password", "Password must be at most "+strconv.Itoa(MaxPasswordBytes)+" bytes.")
	}
	return nil
}

// ValidateName checks a required short name (a display name, a team or agent
// name) held in field: not blank, at most 100 characters after trimming, no
// control characters (a name is shown on one line). Callers store the trimmed
// value.
func ValidateName(s string, field string) error {
	s = strings.TrimSpace(s)
	label := fieldLabel(field)
	if s == "" {
		return InvalidField(field, label+" is required.")
	}
	if utf8.RuneCountInString(s) > MaxNameLength {
		return InvalidField(field, label+" must be at most "+strconv.Itoa(MaxNameLength)+" characters.")
	}
	if !utf8.ValidString(s) {
		return InvalidField(field, label+" is not valid text.")
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return InvalidField(field, label+" cannot contain line breaks or control characters.")
		}
	}
	return nil
}

// ValidText reports whether free text (a description, an agent's config) can
// be stored: valid UTF-8 with no NUL byte. PostgreSQL refuses both, so a
// value failing this must be a validation error, never reach the database.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// fieldLabel turns a field name into the start of a sentence:
// "display_name" → "Display name".
func fieldLabel(field string) string {
	s := strings.ReplaceAll(field, "_", " ")
	if s == "" {
		return "Name"
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
