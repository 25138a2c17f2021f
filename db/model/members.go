package model

import (
	"strings"
	"time"
)

// InvitationTTL is how long an emailed invitation link works (SPEC 5). A
// resend restarts it.
const InvitationTTL = 7 * 24 * time.Hour

// Paging of the members list (SPEC 5).
const (
	MembersPerPage    = DefaultPerPage
	MembersMaxPerPage = 100
)

// DefaultPerPage is the page size of every page-numbered API list when
// per_page is not given: the members list's (SPEC 5), so a script meets one
// default (GitHub's is 30, Stripe's and WorkOS's 10). Each list keeps its own
// most. Agents, teams, resources and the catalogue answered 50 or 100 rows
// before: the all-orgs agents list spent a fifth of its time on the rows
// past 20.
const DefaultPerPage = 20

// MaxPage is the highest page number any numbered list serves. Past it the
// list is empty anyway, and capping it keeps (page-1)*per_page, the SQL
// OFFSET, from overflowing into a negative number.
const MaxPage = 1_000_000

// MemberPaging clamps a requested page and page size of the members list:
// per_page defaults to 20 and is at most 100.
func MemberPaging(page, perPage int) (int, int) {
	return Paging(page, perPage, MembersPerPage, MembersMaxPerPage)
}

// Paging clamps a requested page and page size: page starts at 1 and is at
// most MaxPage; per_page defaults to def and is at most most.
func Paging(page, perPage, def, most int) (int, int) {
	page = max(min(page, MaxPage), 1)
	if perPage <= 0 {
		perPage = def
	}
	return page, min(perPage, most)
}

// TotalPages is the number of pages total rows fill at perPage a page (at
// least 1, so an empty list is "page 1 of 1").
func TotalPages(total, perPage int) int {
	if perPage <= 0 || total <= 0 {
		return 1
	}
	return (total + perPage - 1) / perPage
}

// MemberRow is one line of the members list: the membership and the person.
type MemberRow struct {
	OrgID        int64      `db:"org_id" json:"org_id"`
	AccountID    int64      `db:"account_id" json:"user_id"`
	Name         string     `db:"name" json:"name"`
	Email        string     `db:"email" json:"email"`
	Role         Role       `db:"role" json:"role"`
	JoinedAt     time.Time  `db:"created_at" json:"joined_at"`
	LastActiveAt *time.Time `db:"last_active_at" json:"last_active_at"`
	// TwoFactor is shown to owners only (the API adds it for them); the
	// members list reads it only when its viewer is an owner.
	TwoFactor bool `db:"two_factor" json:"-"`
}

// Membership returns the row's bare membership.
func (m MemberRow) Membership() Membership {
	return Membership{OrgID: m.OrgID, AccountID: m.AccountID, Role: m.Role, CreatedAt: m.JoinedAt}
}

// InvitationStatus is the stored status of an invitation.
type InvitationStatus string

const (
	InvitationPending   InvitationStatus = "pending"
	InvitationAccepted  InvitationStatus = "accepted"
	InvitationDeclined  InvitationStatus = "declined"
	InvitationCancelled InvitationStatus = "cancelled"
	InvitationExpired   InvitationStatus = "expired"
)

// Invitation is an invitation to join an org at a role, with the names the
// pages need (org, inviter).
type Invitation struct {
	ID           int64            `db:"id" json:"id"`
	OrgID        int64            `db:"org_id" json:"org_id"`
	OrgSlug      string           `db:"org_slug" json:"org_slug"`
	OrgName      string           `db:"org_name" json:"org_name"`
	Email        string           `db:"email" json:"email"`
	Role         Role             `db:"role" json:"role"`
	Status       InvitationStatus `db:"status" json:"status"`
	InvitedBy    *int64           `db:"invited_by" json:"invited_by"`
	InviterName  string           `db:"inviter_name" json:"inviter_name"`
	InviterEmail string           `db:"inviter_email" json:"inviter_email"`
	AcceptedBy   *int64           `db:"accepted_by" json:"-"`
	ExpiresAt    time.Time        `db:"expires_at" json:"expires_at"`
	CreatedAt    time.Time        `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time        `db:"updated_at" json:"-"`
}

// InvitationState is what an invitation link means now: the link page and
// the accept call say which.
type InvitationState string

const (
	LinkValid     InvitationState = "valid"
	LinkExpired   InvitationState = "expired"
	LinkAccepted  InvitationState = "accepted"
	LinkDeclined  InvitationState = "declined"
	LinkCancelled InvitationState = "cancelled"
	LinkRotated   InvitationState = "rotated" // a resend replaced this link
	LinkUnknown   InvitationState = "unknown"
)

// StateAt is the invitation's state at now: a pending invitation past its
// expiry is expired even before anything marks it so.
func (i Invitation) StateAt(now time.Time) InvitationState {
	switch i.Status {
	case InvitationPending:
		if !now.Before(i.ExpiresAt) {
			return LinkExpired
		}
		return LinkValid
	case InvitationExpired:
		return LinkExpired
	case InvitationAccepted:
		return LinkAccepted
	case InvitationDeclined:
		return LinkDeclined
	case InvitationCancelled:
		return LinkCancelled
	}
	return LinkUnknown
}

// InvitationLink is what an emailed link resolves to: the invitation (zero for
// an unknown link) and its state.
type InvitationLink struct {
	Invitation Invitation
	State      InvitationState
}

// StateError is the refusal to act on a link in state s (nil when valid).
// Every non-valid state says what happened and what to do next.
func StateError(s InvitationState, inv Invitation) error {
	who := "an admin of the organization"
	if inv.InviterName != "" {
		who = inv.InviterName
	}
	switch s {
	case LinkValid:
		return nil
	case LinkExpired:
		return Conflict("This invitation has expired. Ask %s to send a new one.", who)
	case LinkAccepted:
		return Conflict("This invitation was already accepted.")
	case LinkDeclined:
		return Conflict("This invitation was declined. Ask %s to invite you again.", who)
	case LinkCancelled:
		return Conflict("This invitation was cancelled.")
	case LinkRotated:
		return Conflict("This link was replaced by a newer invitation email. Use the link in the latest email.")
	}
	return NotFound("invitation")
}

// CheckInvitee checks that an account may answer an invitation sent to
// invited: its email must be that address and verified.
func CheckInvitee(accountEmail string, verified bool, invited string) error {
	if NormalizeEmail(accountEmail) != NormalizeEmail(invited) {
		return Forbidden("This invitation was sent to %s. Sign in as %s to accept it.", invited, invited)
	}
	if !verified {
		return Forbidden("Verify your email address %s first, then open the invitation again.", invited)
	}
	return nil
}

// ParseInviteRole reads the role of a new invitation: empty means member.
func ParseInviteRole(s string) (Role, error) {
	if strings.TrimSpace(s) == "" {
		return RoleMember, nil
	}
	return ParseRole(s)
}

// CanLeave checks that a member holding role may leave an org of kind with
// owners owners: nobody leaves their personal workspace, and the last owner
// never leaves.
func CanLeave(kind OrgKind, role Role, owners int) error {
	if kind == OrgPersonal {
		return Forbidden("You cannot leave your personal workspace.")
	}
	return CheckLastOwner(role, "", owners)
}

// CanCancelInvitation checks that actor may cancel a pending invitation:
// owners and admins (SPEC 5).
func CanCancelInvitation(actor Role) error {
	if !actor.atLeastAdmin() {
		return Forbidden("Only owners and admins can cancel invitations.")
	}
	return nil
}

// CanResendInvitation checks that actor may resend an invitation at role at:
// the same rule as inviting at that role.
func CanResendInvitation(actor, at Role) error {
	return CanInvite(actor, at)
}

// CanSeeInvitations reports whether actor may list an org's pending
// invitations: those who may invite.
func CanSeeInvitations(actor Role) bool { return actor.atLeastAdmin() }

// MemberActions is what a viewer may do to one row of the members list, so
// the page shows only the allowed actions (the store checks them again).
type MemberActions struct {
	ChangeRole bool   // may change this member's role at all
	Roles      []Role // the roles the viewer may move this member to (includes the current one)
	Remove     bool
	Leave      bool // the row is the viewer's own and leaving is allowed
	Transfer   bool // the viewer may make this member the owner
}

// ActionsOn works out MemberActions for viewer (role viewerRole, account
// viewerID) on member in an org of kind with owners owners.
func ActionsOn(kind OrgKind, viewerID int64, viewerRole Role, member MemberRow, owners int) MemberActions {
	var a MemberActions
	self := member.AccountID == viewerID
	if self {
		a.Leave = CanLeave(kind, member.Role, owners) == nil
	}
	if kind == OrgPersonal {
		return a
	}
	for _, to := range Roles {
		if CanChangeRole(viewerRole, member.Role, to) != nil {
			continue
		}
		if to != member.Role && CheckLastOwner(member.Role, to, owners) != nil {
			continue
		}
		a.Roles = append(a.Roles, to)
	}
	a.ChangeRole = len(a.Roles) > 1
	if !self {
		a.Remove = CanRemoveMember(viewerRole, member.Role) == nil && CheckLastOwner(member.Role, "", owners) == nil
		a.Transfer = CanTransferOwnership(viewerRole, member.Role) == nil
	}
	return a
}
