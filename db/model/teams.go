package model

import (
	"strings"
	"time"
	"unicode/utf8"
)

// AgentTransferTTL is how long a transfer of an agent to a person waits for
// the recipient (SPEC 7).
const AgentTransferTTL = 7 * 24 * time.Hour

// TeamsMaxPerPage is the most a page of the API teams list holds: an org
// with 500 teams answered 130 KB of JSON on every call before the list had
// pages.
const TeamsMaxPerPage = 100

// Field limits for teams and agents.
const (
	MaxDescriptionLength = 500
	MaxAgentConfigLength = 20000
)

// ResourceKind names a kind of resource an org owns and grants (SPEC 1).
// Agents are enforced end to end; the other kinds are named for later.
type ResourceKind string

const (
	ResourceAgent         ResourceKind = "agent"
	ResourceKnowledgeBase ResourceKind = "knowledge_base"
	ResourceSkill         ResourceKind = "skill"
)

// ParseResourceKind reads a resource kind; an empty value is an agent, the
// only kind enforced today. Known but not yet enforced kinds are refused with
// a clear message.
func ParseResourceKind(s string) (ResourceKind, error) {
	k := ResourceKind(strings.ToLower(strings.TrimSpace(s)))
	switch k {
	case "", ResourceAgent:
		return ResourceAgent, nil
	case ResourceKnowledgeBase, ResourceSkill:
		return "", InvalidField("resource_kind", "Only agents can be granted for now.")
	}
	return "", InvalidField("resource_kind", "Choose a resource kind: agent.")
}

// Team is a named group inside a team org.
type Team struct {
	ID          int64     `db:"id" json:"id"`
	OrgID       int64     `db:"org_id" json:"org_id"`
	Name        string    `db:"name" json:"name"`
	Description string    `db:"description" json:"description"`
	MemberCount int       `db:"member_count" json:"member_count"`
	GrantCount  int       `db:"grant_count" json:"grant_count"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
	// ViewerRole is the viewing account's role in the team ("" = not in it).
	ViewerRole TeamRole `db:"viewer_role" json:"-"`
	// GrantsVersion changes with every change to the team's grants (00015):
	// what was built from them still holds while it does. Read by TeamHead.
	GrantsVersion int64 `db:"grants_version" json:"-"`
}

// TeamMembership is one account in a team, with its team role and org role.
type TeamMembership struct {
	TeamID    int64     `db:"team_id" json:"team_id"`
	AccountID int64     `db:"account_id" json:"user_id"`
	Email     string    `db:"email" json:"email"`
	Name      string    `db:"name" json:"name"`
	Role      TeamRole  `db:"role" json:"role"`
	OrgRole   Role      `db:"org_role" json:"org_role"`
	CreatedAt time.Time `db:"created_at" json:"joined_at"`
}

// Grant gives a team a permission on one resource of its org.
type Grant struct {
	ID           int64        `db:"id" json:"id"`
	OrgID        int64        `db:"org_id" json:"org_id"`
	TeamID       int64        `db:"team_id" json:"team_id"`
	TeamName     string       `db:"team_name" json:"team_name"`
	ResourceKind ResourceKind `db:"resource_kind" json:"resource_kind"`
	ResourceID   int64        `db:"resource_id" json:"resource_id"`
	ResourceName string       `db:"resource_name" json:"resource_name"`
	Permission   Permission   `db:"permission" json:"permission"`
	CreatedAt    time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time    `db:"updated_at" json:"updated_at"`
}

// TeamDetail is a team with its members and grants, and how the viewer
// relates to it.
type TeamDetail struct {
	Team
	Members []TeamMembership `json:"members"`
	Grants  []Grant          `json:"grants"`
	// ViewerOrgRole is the viewing account's org role.
	ViewerOrgRole Role `json:"-"`
}

// CanManage reports whether the viewer may manage the team's members and
// grants and rename it.
func (d TeamDetail) CanManage() bool { return CanManageTeam(d.ViewerOrgRole, d.ViewerRole) }

// Resource is one resource an org owns, as listed by the grant picker.
type Resource struct {
	Kind ResourceKind `db:"kind" json:"kind"`
	ID   int64        `db:"id" json:"id"`
	Name string       `db:"name" json:"name"`
}

// Agent is the enforced resource kind (SPEC 7). Permission and Source are the
// viewer's effective level and where it came from, filled by the store.
type Agent struct {
	ID            int64      `db:"id" json:"id"`
	OrgID         int64      `db:"org_id" json:"org_id"`
	OrgSlug       string     `db:"org_slug" json:"org_slug"`
	OrgName       string     `db:"org_name" json:"org_name"`
	OrgKind       OrgKind    `db:"org_kind" json:"org_kind"`
	CreatedBy     *int64     `db:"created_by" json:"created_by"`
	CreatorName   string     `db:"creator_name" json:"creator_name"`
	Name          string     `db:"name" json:"name"`
	Description   string     `db:"description" json:"description"`
	Config        string     `db:"config" json:"config"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at" json:"updated_at"`
	Permission    Permission `db:"-" json:"permission"`
	Source        Source     `db:"-" json:"source"`
	ViewerOrgRole Role       `db:"-" json:"-"`
}

// normalizeNamed trims and checks the name and description that agents and
// teams share.
func normalizeNamed(name, description *string) Fields {
	*name = strings.TrimSpace(*name)
	*description = strings.TrimSpace(*description)
	f := Fields{}
	if err := ValidateName(*name, "name"); err != nil {
		f.Add("name", err.(*Error).Message)
	}
	if !ValidText(*description) {
		f.Add("description", "The description is not valid text.")
	} else if utf8.RuneCountInString(*description) > MaxDescriptionLength {
		f.Add("description", "Keep the description under 500 characters.")
	}
	return f
}

// AgentInput is what creating or editing an agent takes.
type AgentInput struct {
	Name        string
	Description string
	Config      string
}

// Normalize trims the fields and validates them.
func (in *AgentInput) Normalize() error {
	f := normalizeNamed(&in.Name, &in.Description)
	if !ValidText(in.Config) {
		f.Add("config", "The config is not valid text.")
	} else if len(in.Config) > MaxAgentConfigLength {
		f.Add("config", "Keep the config under 20,000 characters.")
	}
	return f.Err()
}

// TeamInput is what creating or editing a team takes.
type TeamInput struct {
	Name        string
	Description string
}

// Normalize trims the fields and validates them.
func (in *TeamInput) Normalize() error {
	return normalizeNamed(&in.Name, &in.Description).Err()
}

// Agent transfer statuses.
const (
	TransferPending   = "pending"
	TransferAccepted  = "accepted"
	TransferDeclined  = "declined"
	TransferCancelled = "cancelled"
	TransferExpired   = "expired"
)

// AgentTransfer is an agent on its way to a person, pending until they
// accept, decline or it expires.
type AgentTransfer struct {
	ID            int64     `db:"id" json:"id"`
	AgentID       int64     `db:"agent_id" json:"agent_id"`
	AgentName     string    `db:"agent_name" json:"agent_name"`
	FromOrgID     int64     `db:"from_org_id" json:"from_org_id"`
	FromOrgName   string    `db:"from_org_name" json:"from_org_name"`
	FromAccountID *int64    `db:"from_account_id" json:"from_user_id"`
	FromName      string    `db:"from_name" json:"from_name"`
	FromEmail     string    `db:"from_email" json:"from_email"`
	ToEmail       string    `db:"to_email" json:"to_email"`
	Status        string    `db:"status" json:"status"`
	ExpiresAt     time.Time `db:"expires_at" json:"expires_at"`
	CreatedAt     time.Time `db:"created_at" json:"created_at"`
}

// Expired reports whether a pending transfer is past its expiry at now.
func (t AgentTransfer) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// CanTransferAgent checks that someone with permission p on an agent may
// move or transfer it: that takes admin (SPEC 3).
func CanTransferAgent(p Permission) error {
	if !p.AtLeast(PermAdmin) {
		return Forbidden("Moving or transferring an agent needs admin on it.")
	}
	return nil
}

// CanMoveAgentToOrg checks SPEC 7's move: the agent must live in the actor's
// personal org, and the target must be a team org where the actor's role can
// own resources. targetRole is "" when the actor is not a member (the caller
// answers not found before asking).
func CanMoveAgentToOrg(agentInActorsPersonalOrg bool, targetKind OrgKind, targetRole Role) error {
	if !agentInActorsPersonalOrg {
		return Forbidden("Only an agent in your personal workspace can be moved into an organization.")
	}
	if targetKind != OrgTeam {
		return InvalidField("org_id", "Choose a team organization to move the agent into.")
	}
	if !CanOwnResources(targetRole) {
		return Forbidden("Billing members cannot own agents in that organization.")
	}
	return nil
}

// CanGrant checks that an actor may give a team level on a resource. Owners
// and admins grant anything. A maintainer who is a plain member manages their
// team's grants (SPEC 2) but cannot hand out more than they hold themselves:
// at least read to grant at all, and never above their own level, so a
// maintainer cannot turn a team into a way around the grants (as in GitHub,
// where adding a repository to a team needs admin on it).
func CanGrant(actor Role, actorLevel, level Permission) error {
	if actor == RoleOwner || actor == RoleAdmin {
		return nil
	}
	if !actorLevel.AtLeast(PermRead) {
		return NotFound("agent")
	}
	if level.Rank() > actorLevel.Rank() {
		return Forbidden("You have %s on this agent, so you can grant at most %s.", actorLevel, actorLevel)
	}
	return nil
}
