package model

import (
	"strings"
	"time"
)

// CodeTwoFactorRequired refuses a member of an org that requires two-factor
// sign-in while the member has none (HTTP 403).
const CodeTwoFactorRequired Code = "two_factor_required"

// RecoveryCodeCount is how many one-time recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// TwoFactorStatus is what an account has set up as a second factor.
type TwoFactorStatus struct {
	TOTP         bool       // a confirmed authenticator app
	TOTPSince    *time.Time // when it was confirmed
	Enrolling    bool       // an authenticator secret waiting for its first code
	RecoveryLeft int        // unused recovery codes
	Passkeys     int        // registered WebAuthn credentials
}

// Enabled reports whether the account signs in with a second factor.
func (s TwoFactorStatus) Enabled() bool { return s.TOTP || s.Passkeys > 0 }

// TwoFactorGate decides whether acc may use org: an org that requires
// two-factor sign-in refuses members without it. A personal workspace never
// requires it. This is the one place the rule lives; the page middleware and
// the API's org resolution both call it.
func TwoFactorGate(org Org, acc Account) error {
	if !org.RequireTwoFactor || org.Personal() || acc.TwoFactor {
		return nil
	}
	return &Error{Code: CodeTwoFactorRequired,
		Message: org.DisplayName + " requires two-factor authentication. Turn it on in your profile (/profile) to regain access."}
}

// CanRequireTwoFactor checks turning an org's requirement on or off: owners
// and admins (like other settings), never on a personal workspace, and only
// by someone who has two-factor sign-in (or they would lock themselves out).
func CanRequireTwoFactor(org Org, role Role, on, actorHasTwoFactor bool) error {
	if !Can(role, ActUpdateOrg) {
		return Forbidden("Only owners and admins can change the organization's settings.")
	}
	if org.Personal() {
		return InvalidField("require_two_factor", "A personal workspace has no members to require it of: turn on two-factor for your own account on your profile.")
	}
	if on && !actorHasTwoFactor {
		return InvalidField("require_two_factor", "Turn on two-factor authentication for your own account first (on your profile), or you would lose access yourself.")
	}
	return nil
}

// NormalizeOTP strips the spaces and dashes people type into codes, and
// lowercases recovery codes.
func NormalizeOTP(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(s)
}

// IsTOTPCode reports whether s (normalized) looks like a six-digit code
// rather than a recovery code.
func IsTOTPCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Session is one browser session as its owner sees it.
type Session struct {
	ID         int64     `db:"id" json:"id"`
	CreatedAt  time.Time `db:"created_at" json:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at" json:"last_seen_at"`
	IP         string    `db:"ip" json:"ip"`
	UserAgent  string    `db:"user_agent" json:"user_agent"`
	Current    bool      `db:"current" json:"current"`
}

// DeviceLabel names a browser and system from a User-Agent, roughly: enough
// for a person to recognise their own devices ("Chrome on macOS").
func DeviceLabel(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "Unknown device"
	}
	browser := "Unknown browser"
	switch {
	case strings.Contains(ua, "Edg/"):
		browser = "Edge"
	case strings.Contains(ua, "OPR/") || strings.Contains(ua, "Opera"):
		browser = "Opera"
	case strings.Contains(ua, "Firefox/") || strings.Contains(ua, "FxiOS/"):
		browser = "Firefox"
	case strings.Contains(ua, "HeadlessChrome/"):
		browser = "Headless Chrome"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "CriOS/"):
		browser = "Chrome"
	case strings.Contains(ua, "Safari/"):
		browser = "Safari"
	case strings.HasPrefix(ua, "curl/"):
		browser = "curl"
	case strings.HasPrefix(ua, "Go-http-client"):
		browser = "Go HTTP client"
	}
	system := ""
	switch {
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad"):
		system = "iOS"
	case strings.Contains(ua, "Android"):
		system = "Android"
	case strings.Contains(ua, "Mac OS X") || strings.Contains(ua, "Macintosh"):
		system = "macOS"
	case strings.Contains(ua, "Windows"):
		system = "Windows"
	case strings.Contains(ua, "CrOS"):
		system = "ChromeOS"
	case strings.Contains(ua, "Linux"):
		system = "Linux"
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// Passkey is a WebAuthn credential registered as a second factor. Data is the
// WebAuthn library's credential record (public key, sign count), as JSON.
type Passkey struct {
	ID           int64      `db:"id" json:"id"`
	Name         string     `db:"name" json:"name"`
	CredentialID []byte     `db:"credential_id" json:"-"`
	Data         []byte     `db:"data" json:"-"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
	LastUsedAt   *time.Time `db:"last_used_at" json:"last_used_at"`
}

// ValidatePasskeyName checks the label a person gives a passkey.
func ValidatePasskeyName(name string) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return InvalidField("name", "Give the passkey a name, like the device it lives on.")
	case !ValidText(name) || strings.ContainsAny(name, "\r\n"):
		return InvalidField("name", "The name is not valid text.")
	case len([]rune(name)) > 60:
		return InvalidField("name", "Keep the name under 60 characters.")
	}
	return nil
}
