package model

import "time"

// Actor is who performs a change: an account, possibly through an API token,
// from an IP. Every store call that changes state takes one for the audit log.
type Actor struct {
	AccountID int64
	Email     string
	TokenID   int64 // 0 when acting from a browser session
	IP        string
}

// Account is a person.
type Account struct {
	ID              int64      `db:"id" json:"id"`
	Email           string     `db:"email" json:"email"`
	Name            string     `db:"name" json:"name"`
	PasswordHash    string     `db:"password_hash" json:"-"`
	EmailVerifiedAt *time.Time `db:"email_verified_at" json:"email_verified_at"`
	PersonalOrgID   int64      `db:"personal_org_id" json:"personal_org_id"`
	CreatedAt       time.Time  `db:"created_at" json:"created_at"`
	LastActiveAt    *time.Time `db:"last_active_at" json:"last_active_at"`
	// TwoFactor: the account signs in with a second factor (TOTP or a passkey).
	TwoFactor bool `db:"two_factor" json:"two_factor"`
}

// Verified reports whether the account's email has been confirmed.
func (a Account) Verified() bool { return a.EmailVerifiedAt != nil }

// Org is a workspace: personal or team.
type Org struct {
	ID                   int64      `db:"id" json:"id"`
	Kind                 OrgKind    `db:"kind" json:"kind"`
	Slug                 string     `db:"slug" json:"slug"`
	DisplayName          string     `db:"display_name" json:"display_name"`
	Description          string     `db:"description" json:"description"`
	MemberBasePermission Permission `db:"member_base_permission" json:"member_base_permission"`
	Plan                 Plan       `db:"plan" json:"plan"`
	LimitTeamMembers     int        `db:"limit_team_members" json:"-"`
	LimitAPIKeys         int        `db:"limit_api_keys" json:"-"`
	LimitAgents          int        `db:"limit_agents" json:"-"`
	LimitMonthlyRequests int        `db:"limit_monthly_requests" json:"-"`
	RequireTwoFactor     bool       `db:"require_two_factor" json:"require_two_factor"`
	CreatedAt            time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt            time.Time  `db:"updated_at" json:"updated_at"`
}

// Personal reports whether this is an account's personal workspace.
func (o Org) Personal() bool { return o.Kind == OrgPersonal }

// Limits returns the org's stored plan limits.
func (o Org) Limits() Limits {
	return Limits{TeamMembers: o.LimitTeamMembers, APIKeys: o.LimitAPIKeys, Agents: o.LimitAgents, MonthlyRequests: o.LimitMonthlyRequests}
}

// Workspace is an org as seen by one account: the org and the account's role in it.
type Workspace struct {
	Org
	Role Role `db:"role" json:"role"`
}

// Membership is one account's role in one org.
type Membership struct {
	OrgID     int64     `db:"org_id" json:"org_id"`
	AccountID int64     `db:"account_id" json:"user_id"`
	Role      Role      `db:"role" json:"role"`
	CreatedAt time.Time `db:"created_at" json:"joined_at"`
}

// APIToken is a bearer secret of one account; only its hash is stored.
type APIToken struct {
	ID         int64      `db:"id" json:"id"`
	AccountID  int64      `db:"account_id" json:"user_id"`
	Name       string     `db:"name" json:"name"`
	Prefix     string     `db:"prefix" json:"prefix"`
	Scopes     []string   `db:"-" json:"scopes"`
	OrgID      *int64     `db:"org_id" json:"org_id"`
	PolicyID   *int64     `db:"policy_id" json:"policy_id"`
	ExpiresAt  *time.Time `db:"expires_at" json:"expires_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
}

// Token scopes (SPEC 11).
const (
	ScopeRead     = "read"
	ScopeWrite    = "write"
	ScopePurchase = "purchase"
	ScopeDownload = "download"
	ScopeAdmin    = "admin"
)

// AllScopes lists every token scope.
var AllScopes = []string{ScopeRead, ScopeWrite, ScopePurchase, ScopeDownload, ScopeAdmin}

// HasScope reports whether the token carries scope s.
func (t APIToken) HasScope(s string) bool {
	for _, have := range t.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// Target names what an audited action acted on.
type Target struct {
	Kind  string
	ID    string
	Label string
}

// AuditEvent is one append-only record of who did what in which org.
type AuditEvent struct {
	ID          int64     `db:"id" json:"id"`
	OrgID       *int64    `db:"org_id" json:"org_id"`
	ActorID     *int64    `db:"actor_id" json:"actor_id"`
	ActorEmail  string    `db:"actor_email" json:"actor_email"`
	TokenID     *int64    `db:"token_id" json:"token_id"`
	Action      string    `db:"action" json:"action"`
	TargetKind  string    `db:"target_kind" json:"target_kind"`
	TargetID    string    `db:"target_id" json:"target_id"`
	TargetLabel string    `db:"target_label" json:"target_label"`
	Outcome     string    `db:"outcome" json:"outcome"`
	IP          string    `db:"ip" json:"ip"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}

// AuditFilter narrows the audit log; zero values mean no filter. Before is the
// keyset cursor: only events with a smaller id.
type AuditFilter struct {
	Actor   string // account id or email (substring of the email as it was)
	Action  string // exact action or a prefix ending in "." (e.g. "member.")
	Outcome string
	Since   *time.Time
	Until   *time.Time
	Before  int64
	Limit   int
}

// Mail is one message to send.
type Mail struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// OutboxMail is a message kept in the dev outbox.
type OutboxMail struct {
	ID        int64     `db:"id"`
	To        string    `db:"to_addr"`
	Subject   string    `db:"subject"`
	Text      string    `db:"text_body"`
	HTML      string    `db:"html_body"`
	CreatedAt time.Time `db:"created_at"`
	Status    string    `db:"status"` // kept, pending, sent, failed
	Attempts  int       `db:"attempts"`
	LastError string    `db:"last_error"`
}
