package model

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/url"
	"strings"
	"time"
)

// SSO protocols.
const (
	ProtocolOIDC = "oidc"
	ProtocolSAML = "saml"
)

// Session authentication methods.
const (
	AuthPassword = "password"
	AuthSSO      = "sso"
)

// SSO flow purposes: a person signing in, the owner's test sign-in, or a
// test from a setup-link session.
const (
	FlowSignIn = "signin"
	FlowTest   = "test"
	FlowSetup  = "setup"
)

// SSO time limits.
const (
	SetupLinkTTL = 24 * time.Hour
	FlowTTL      = 10 * time.Minute
)

// TXTPrefix starts the DNS TXT record that proves a domain.
const TXTPrefix = "guildhall-verification="

// SSOConnection is an org's identity provider. The client secret is only
// ever held sealed; SecretSet says whether one is stored.
type SSOConnection struct {
	OrgID            int64      `db:"org_id" json:"org_id"`
	Protocol         string     `db:"protocol" json:"protocol"`
	Issuer           string     `db:"issuer" json:"issuer"`
	ClientID         string     `db:"client_id" json:"client_id"`
	ClientSecretEnc  []byte     `db:"client_secret_enc" json:"-"`
	MetadataXML      string     `db:"metadata_xml" json:"-"`
	MetadataURL      string     `db:"metadata_url" json:"metadata_url"`
	Enabled          bool       `db:"enabled" json:"enabled"`
	Enforced         bool       `db:"enforced" json:"enforced"`
	IdPInitiated     bool       `db:"idp_initiated" json:"idp_initiated"`
	ConfigHash       string     `db:"config_hash" json:"-"`
	TestedConfigHash string     `db:"tested_config_hash" json:"-"`
	TestedAt         *time.Time `db:"tested_at" json:"tested_at"`
	CreatedAt        time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at" json:"updated_at"`
}

// Tested reports whether a test sign-in succeeded on the current settings.
func (c SSOConnection) Tested() bool {
	return c.TestedAt != nil && c.TestedConfigHash != "" && c.TestedConfigHash == c.ConfigHash
}

// SSOConfig is what an owner (or a setup session) submits. ClientSecret is
// plain text here and sealed before it reaches the store; empty keeps the
// stored one.
type SSOConfig struct {
	Protocol     string
	Issuer       string
	ClientID     string
	ClientSecret string
	MetadataXML  string
	MetadataURL  string
}

// Normalize trims the fields.
func (in SSOConfig) Normalize() SSOConfig {
	in.Protocol = strings.ToLower(strings.TrimSpace(in.Protocol))
	in.Issuer = strings.TrimRight(strings.TrimSpace(in.Issuer), "/")
	in.ClientID = strings.TrimSpace(in.ClientID)
	in.ClientSecret = strings.TrimSpace(in.ClientSecret)
	in.MetadataXML = strings.TrimSpace(in.MetadataXML)
	in.MetadataURL = strings.TrimSpace(in.MetadataURL)
	return in
}

// ValidateSSOConfig checks a normalized configuration. hasSecret says whether
// a client secret is already stored (so an edit may leave it blank).
func ValidateSSOConfig(in SSOConfig, hasSecret bool) error {
	f := Fields{}
	for k, v := range map[string]string{"issuer": in.Issuer, "client_id": in.ClientID, "client_secret": in.ClientSecret, "metadata_xml": in.MetadataXML, "metadata_url": in.MetadataURL} {
		if !ValidText(v) {
			f.Add(k, "This is not valid text.")
		}
	}
	switch in.Protocol {
	case ProtocolOIDC:
		if err := validateIdPURL(in.Issuer); err != "" {
			f.Add("issuer", "Issuer "+err)
		}
		if in.ClientID == "" {
			f.Add("client_id", "Client id is required.")
		} else if len(in.ClientID) > 500 {
			f.Add("client_id", "Client id must be at most 500 characters.")
		}
		if in.ClientSecret == "" && !hasSecret {
			f.Add("client_secret", "Client secret is required.")
		} else if len(in.ClientSecret) > 2000 {
			f.Add("client_secret", "Client secret must be at most 2000 characters.")
		}
	case ProtocolSAML:
		switch {
		case in.MetadataXML == "" && in.MetadataURL == "":
			f.Add("metadata_xml", "Paste the IdP metadata XML or give its URL.")
		case in.MetadataXML != "" && in.MetadataURL != "":
			f.Add("metadata_url", "Give the metadata XML or its URL, not both.")
		case in.MetadataURL != "":
			if err := validateIdPURL(in.MetadataURL); err != "" {
				f.Add("metadata_url", "Metadata URL "+err)
			}
		case len(in.MetadataXML) > 200_000:
			f.Add("metadata_xml", "Metadata XML must be at most 200 KB.")
		case !strings.Contains(in.MetadataXML, "EntityDescriptor"):
			f.Add("metadata_xml", "This is not SAML metadata: it has no EntityDescriptor.")
		}
	default:
		f.Add("protocol", "Choose a protocol: oidc or saml.")
	}
	return f.Err()
}

// validateIdPURL checks an issuer or metadata URL: https, or http on
// loopback only (a local test provider). It returns what is wrong, or "".
func validateIdPURL(s string) string {
	if s == "" {
		return "is required."
	}
	if len(s) > 2000 {
		return "must be at most 2000 characters."
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return "must be a URL like https://idp.example.com."
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return ""
		}
		return "must use https."
	}
	return "must be a URL like https://idp.example.com."
}

// SSOConfigHash names a connection's settings: a test sign-in records it, and
// enforcement needs the current settings to have been tested. The sealed
// secret is included, so entering a new secret needs a new test.
func SSOConfigHash(c SSOConnection) string {
	h := sha256.New()
	for _, p := range []string{c.Protocol, c.Issuer, c.ClientID, hex.EncodeToString(c.ClientSecretEnc), c.MetadataXML, c.MetadataURL} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CanEnforce decides whether enforcement may be turned on: the connection
// must be enabled and its current settings must have completed a test
// sign-in, so an org cannot lock itself out.
func CanEnforce(c SSOConnection) error {
	if !c.Enabled {
		return Conflict("Enable the connection before enforcing SSO.")
	}
	if !c.Tested() {
		return Conflict("Run a successful test sign-in on the current settings before enforcing SSO.")
	}
	return nil
}

// SSOIdentity is what an identity provider vouched for, after the protocol
// adapter checked signatures, audience, time, state and nonce.
type SSOIdentity struct {
	Protocol      string   `json:"protocol"`
	Issuer        string   `json:"issuer"`
	Subject       string   `json:"subject"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	Groups        []string `json:"groups"`
}

// JIT outcomes.
type JITAction int

const (
	JITRefuse JITAction = iota // the IdP did not vouch for the email
	JITCreate                  // a new account and a member membership
	JITLink                    // an existing account with that email
)

// DecideJIT decides what a verified identity does on sign-in: an unverified
// or invalid email is refused (it could take over someone else's account), and
// so is an email outside the org's verified domains (an org's IdP may only
// vouch for addresses the org proved it owns); a known email links to that
// account; an unknown one is provisioned.
func DecideJIT(id SSOIdentity, atVerifiedDomain, accountExists bool) (JITAction, error) {
	email := NormalizeEmail(id.Email)
	if !id.EmailVerified {
		return JITRefuse, Forbidden("Your identity provider did not confirm that %s is verified, so Guildhall cannot sign you in with it.", orUnknown(email))
	}
	if err := ValidateEmail(email); err != nil {
		return JITRefuse, Forbidden("Your identity provider sent no usable email address.")
	}
	if !atVerifiedDomain {
		return JITRefuse, Forbidden("%s is not at a domain this organization has verified, so its identity provider cannot sign it in. Ask an owner to verify the domain.", email)
	}
	if accountExists {
		return JITLink, nil
	}
	return JITCreate, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "the email"
	}
	return s
}

// IdentityDisplayName picks a name for a provisioned account.
func IdentityDisplayName(id SSOIdentity) string {
	n := strings.TrimSpace(id.Name)
	if ValidateName(n, "name") == nil {
		return n
	}
	local, _, _ := strings.Cut(NormalizeEmail(id.Email), "@")
	if ValidateName(local, "name") == nil {
		return local
	}
	return "New member"
}

// EmailDomain is the domain part of a normalized email, or "".
func EmailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(email[at+1:])
}

// freeMailDomains are shared by unrelated people, so no org may claim them.
var freeMailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "outlook.com": true, "hotmail.com": true,
	"live.com": true, "yahoo.com": true, "icloud.com": true, "me.com": true, "aol.com": true,
	"proton.me": true, "protonmail.com": true, "gmx.com": true, "mail.com": true,
}

// NormalizeDomain validates a domain an owner claims and returns its stored
// form: lowercase, no trailing dot, labels of letters, digits and hyphens, at
// least two labels, not a shared mail provider.
func NormalizeDomain(s string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	bad := InvalidField("domain", "Enter a domain like example.com (no https:// and no path).")
	if d == "" {
		return "", InvalidField("domain", "Domain is required.")
	}
	if len(d) > 253 || !strings.Contains(d, ".") {
		return "", bad
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", bad
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "", bad
			}
		}
	}
	if freeMailDomains[d] {
		return "", InvalidField("domain", d+" is a shared mail provider; claim your own company domain.")
	}
	return d, nil
}

// TXTMatches reports whether any TXT record proves the token.
func TXTMatches(records []string, token string) bool {
	for _, r := range records {
		if strings.TrimSpace(r) == TXTPrefix+token {
			return true
		}
	}
	return false
}

// SSOFacts are what the enforcement gate needs about one account in one org.
type SSOFacts struct {
	Enforced      bool   // the org's connection is enabled and enforced
	AtDomain      bool   // the account's email is at one of the org's verified domains
	Role          Role   // the account's role in the org
	SessionMethod string // AuthPassword or AuthSSO
	SessionOrgID  int64  // the org whose IdP signed the session in
	OrgID         int64
}

// Gate outcomes for a password sign-in or a password session.
type SSOGateResult int

const (
	GateAllow  SSOGateResult = iota // SSO does not apply
	GateBypass                      // an owner's break-glass: allowed and audited
	GateRefuse                      // must sign in through the org's IdP
)

// SSOGate decides whether a session (or a password sign-in, with
// SessionMethod AuthPassword) may use the org: enforcement binds members at
// the org's verified domains; owners keep a break-glass password path so a
// broken IdP cannot lock the org out.
func SSOGate(f SSOFacts) SSOGateResult {
	if !f.Enforced || !f.AtDomain {
		return GateAllow
	}
	if f.SessionMethod == AuthSSO && f.SessionOrgID == f.OrgID {
		return GateAllow
	}
	if f.Role == RoleOwner {
		return GateBypass
	}
	return GateRefuse
}

// SSOFlow is a sign-in in flight, stored by the hash of its state.
type SSOFlow struct {
	StateHash     string     `db:"state_hash"`
	OrgID         int64      `db:"org_id"`
	Purpose       string     `db:"purpose"`
	Nonce         string     `db:"nonce"`
	PKCEVerifier  string     `db:"pkce_verifier"`
	SAMLRequestID string     `db:"saml_request_id"`
	AccountID     *int64     `db:"account_id"`
	SetupLinkID   *int64     `db:"setup_link_id"`
	ConfigHash    string     `db:"config_hash"`
	NextPath      string     `db:"next_path"`
	Identity      []byte     `db:"identity"` // JSON of SSOIdentity, set by a SAML ACS
	IdPInitiated  bool       `db:"idp_initiated"`
	ExpiresAt     time.Time  `db:"expires_at"`
	UsedAt        *time.Time `db:"used_at"`
	CreatedAt     time.Time  `db:"created_at"`
}

// SSODomain is a domain an org claims, verified by a DNS TXT record.
type SSODomain struct {
	ID         int64      `db:"id" json:"id"`
	OrgID      int64      `db:"org_id" json:"-"`
	Domain     string     `db:"domain" json:"domain"`
	TXTToken   string     `db:"txt_token" json:"-"`
	VerifiedAt *time.Time `db:"verified_at" json:"verified_at"`
	AutoJoin   bool       `db:"auto_join" json:"auto_join"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
}

// TXTRecord is the record value that proves the domain.
func (d SSODomain) TXTRecord() string { return TXTPrefix + d.TXTToken }

// SSOSetupLink is an ephemeral link for an IT admin; only its hash is stored.
type SSOSetupLink struct {
	ID             int64      `db:"id" json:"id"`
	OrgID          int64      `db:"org_id" json:"-"`
	CreatedBy      *int64     `db:"created_by" json:"created_by"`
	CreatedByEmail string     `db:"created_by_email" json:"created_by_email"`
	ExpiresAt      time.Time  `db:"expires_at" json:"expires_at"`
	UsedAt         *time.Time `db:"used_at" json:"used_at"`
	RevokedAt      *time.Time `db:"revoked_at" json:"revoked_at"`
	CreatedAt      time.Time  `db:"created_at" json:"created_at"`
}

// SetupLinkState is a link's state at now.
func (l SSOSetupLink) State(now time.Time) string {
	switch {
	case l.RevokedAt != nil:
		return "revoked"
	case !now.Before(l.ExpiresAt):
		return "expired"
	case l.UsedAt != nil:
		return "opened"
	}
	return "active"
}
