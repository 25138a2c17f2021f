package model

import (
	"fmt"
	"strings"
	"time"
)

// Purchase refusal codes of SPEC 9 (403), and the idempotency conflict (409).
const (
	CodeBlockedType         Code = "blocked_type"
	CodeVendorNotAllowed    Code = "vendor_not_allowed"
	CodeOverMaxPerPurchase  Code = "over_max_per_purchase"
	CodeOverDailyLimit      Code = "over_daily_limit"
	CodeOverMonthlyLimit    Code = "over_monthly_limit"
	CodeIdempotencyConflict Code = "idempotency_conflict"
)

// Ledger entry kinds (SPEC 8).
const (
	KindTopUp       = "top_up"
	KindAutoTopUp   = "auto_top_up"
	KindPurchase    = "purchase"
	KindRefund      = "refund"
	KindTransferIn  = "transfer_in"
	KindTransferOut = "transfer_out"
)

// EntryKinds lists the kinds a wallet entry may have, for filters.
var EntryKinds = []string{KindTopUp, KindAutoTopUp, KindPurchase, KindRefund, KindTransferIn, KindTransferOut}

// Package types and visibilities (SPEC 10).
var (
	PackageTypes        = []string{"skill", "mcp_server", "agent_template", "prompt", "tool"}
	PackageVisibilities = []string{"public", "org_only", "private"}
)

// SpendPolicy is an org's limits on purchases with its wallet (SPEC 9). A nil
// limit means no limit.
type SpendPolicy struct {
	ID                        int64     `db:"id" json:"id"`
	OrgID                     int64     `db:"org_id" json:"org_id"`
	Name                      string    `db:"name" json:"name"`
	MaxPerPurchaseCents       *int64    `db:"max_per_purchase_cents" json:"max_per_purchase_cents"`
	DailyLimitCents           *int64    `db:"daily_limit_cents" json:"daily_limit_cents"`
	MonthlyLimitCents         *int64    `db:"monthly_limit_cents" json:"monthly_limit_cents"`
	RequireApprovalAboveCents *int64    `db:"require_approval_above_cents" json:"require_approval_above_cents"`
	VendorAllowlist           []string  `db:"-" json:"vendor_allowlist"`
	BlockedTypes              []string  `db:"-" json:"blocked_types"`
	Active                    bool      `db:"active" json:"active"`
	IsDefault                 bool      `db:"is_default" json:"is_default"`
	CreatedAt                 time.Time `db:"created_at" json:"created_at"`
	UpdatedAt                 time.Time `db:"updated_at" json:"updated_at"`
}

// ValidatePolicy checks a policy's fields: a name, limits at or above 0,
// known package types, publisher slugs in the allowlist.
func ValidatePolicy(p SpendPolicy) error {
	f := Fields{}
	if err := ValidateName(p.Name, "name"); err != nil {
		e, _ := AsError(err)
		f.Add("name", e.Fields["name"])
	}
	for field, v := range map[string]*int64{
		"max_per_purchase_cents":       p.MaxPerPurchaseCents,
		"daily_limit_cents":            p.DailyLimitCents,
		"monthly_limit_cents":          p.MonthlyLimitCents,
		"require_approval_above_cents": p.RequireApprovalAboveCents,
	} {
		if v != nil && (*v < 0 || *v > MaxAmountCents) {
			f.Add(field, "Enter an amount in cents from 0 up, or leave it empty for no limit.")
		}
	}
	for _, t := range p.BlockedTypes {
		if !contains(PackageTypes, t) {
			f.Add("blocked_types", fmt.Sprintf("Unknown package type %q: use %s.", clean(t), strings.Join(PackageTypes, ", ")))
		}
	}
	for _, v := range p.VendorAllowlist {
		if ValidateSlug(v) != nil {
			f.Add("vendor_allowlist", fmt.Sprintf("%q is not a publisher slug.", clean(v)))
		}
	}
	if len(p.VendorAllowlist) > 100 || len(p.BlockedTypes) > 20 {
		f.Add("vendor_allowlist", "Too many entries.")
	}
	return f.Err()
}

func clean(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MaxAmountCents caps any one amount (a billion dollars), so sums of many
// stay far from overflowing int64.
const MaxAmountCents int64 = 100_000_000_000

// ValidateAmount checks a positive amount in cents.
func ValidateAmount(field string, v int64) error {
	if v <= 0 {
		return InvalidField(field, "Enter a positive amount in cents.")
	}
	if v > MaxAmountCents {
		return InvalidField(field, "That amount is too large.")
	}
	return nil
}

// PurchaseFacts is everything the purchase decision needs, gathered by the
// store under the wallet's row lock.
type PurchaseFacts struct {
	Role        Role // the buyer's role in the buying org ("" = not a member)
	Visible     bool // the buyer may see the package
	PackageType string
	Vendor      string // the publishing org's slug
	PriceCents  int64
	// Policy is the policy that governs the purchase; nil or inactive means none.
	Policy       *SpendPolicy
	SpentToday   int64 // under Policy, in today's UTC window
	SpentMonth   int64 // under Policy, in this UTC month
	BalanceCents int64
	// Approved is set when an admin approved the purchase: the approval
	// threshold is passed, every other check runs again.
	Approved bool
}

// Outcome of a purchase decision.
type Outcome int

const (
	// OutcomeRefused: the purchase is refused with the decision's error.
	OutcomeRefused Outcome = iota
	// OutcomePending: above the approval threshold, an approval is created.
	OutcomePending
	// OutcomeDebit: debit the wallet and record the entitlement.
	OutcomeDebit
)

// DecidePurchase applies SPEC 9's checks in order; the first failure is the
// answer. Over the approval threshold the purchase waits for an approval;
// funds are checked last, so a purchase waiting for approval needs no funds yet.
func DecidePurchase(f PurchaseFacts) (Outcome, error) {
	if !Can(f.Role, ActUseResources) {
		if f.Role == "" {
			return OutcomeRefused, NotFound("organization")
		}
		return OutcomeRefused, Forbidden("Your role (%s) cannot buy or install packages.", f.Role.Label())
	}
	if !f.Visible {
		return OutcomeRefused, NotFound("package")
	}
	p := f.Policy
	if p != nil && p.Active {
		if contains(p.BlockedTypes, f.PackageType) {
			return OutcomeRefused, &Error{Code: CodeBlockedType, Message: fmt.Sprintf("The policy %q blocks packages of type %s.", p.Name, f.PackageType)}
		}
		if len(p.VendorAllowlist) > 0 && !contains(p.VendorAllowlist, f.Vendor) {
			return OutcomeRefused, &Error{Code: CodeVendorNotAllowed, Message: fmt.Sprintf("The policy %q does not allow the vendor %s.", p.Name, f.Vendor)}
		}
		if p.MaxPerPurchaseCents != nil && f.PriceCents > *p.MaxPerPurchaseCents {
			return OutcomeRefused, &Error{Code: CodeOverMaxPerPurchase, Message: fmt.Sprintf("%s is over the policy's maximum of %s per purchase.", FormatCents(f.PriceCents), FormatCents(*p.MaxPerPurchaseCents))}
		}
		if p.DailyLimitCents != nil && f.SpentToday+f.PriceCents > *p.DailyLimitCents {
			return OutcomeRefused, &Error{Code: CodeOverDailyLimit, Message: fmt.Sprintf("This would bring today's spend to %s, over the daily limit of %s (UTC day).", FormatCents(f.SpentToday+f.PriceCents), FormatCents(*p.DailyLimitCents))}
		}
		if p.MonthlyLimitCents != nil && f.SpentMonth+f.PriceCents > *p.MonthlyLimitCents {
			return OutcomeRefused, &Error{Code: CodeOverMonthlyLimit, Message: fmt.Sprintf("This would bring this month's spend to %s, over the monthly limit of %s (UTC month).", FormatCents(f.SpentMonth+f.PriceCents), FormatCents(*p.MonthlyLimitCents))}
		}
		if !f.Approved && p.RequireApprovalAboveCents != nil && f.PriceCents > *p.RequireApprovalAboveCents {
			return OutcomePending, nil
		}
	}
	if f.PriceCents > f.BalanceCents {
		return OutcomeRefused, &Error{Code: CodeInsufficientFunds, Message: fmt.Sprintf("The wallet holds %s; this costs %s. Top up the wallet first.", FormatCents(f.BalanceCents), FormatCents(f.PriceCents))}
	}
	return OutcomeDebit, nil
}

// FormatCents shows cents as dollars: 1234 -> "$12.34".
func FormatCents(c int64) string {
	u := uint64(c)
	if c < 0 {
		u = -u // two's complement: right for math.MinInt64 too
	}
	// Written from the right into a stack buffer: one allocation (a wallet
	// page formats about a hundred amounts).
	var a [32]byte
	i := len(a)
	i--
	a[i] = byte('0' + u%10)
	i--
	a[i] = byte('0' + u/10%10)
	i--
	a[i] = '.'
	u /= 100
	for n := 0; ; n++ {
		if n > 0 && n%3 == 0 {
			i--
			a[i] = ','
		}
		i--
		a[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	i--
	a[i] = '$'
	if c < 0 {
		i--
		a[i] = '-'
	}
	return string(a[i:])
}

// DayWindow and MonthWindow are the UTC calendar windows containing t.
func DayWindow(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// MonthWindow is the first day of t's UTC month.
func MonthWindow(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// AutoTopUp is a wallet's auto top-up setting.
type AutoTopUp struct {
	Enabled          bool  `db:"auto_top_up_enabled" json:"enabled"`
	ThresholdCents   int64 `db:"threshold_cents" json:"threshold_cents"`
	TopUpAmountCents int64 `db:"top_up_amount_cents" json:"top_up_amount_cents"`
}

// Validate checks the settings: when enabled, an amount above 0.
func (a AutoTopUp) Validate() error {
	f := Fields{}
	if a.ThresholdCents < 0 || a.ThresholdCents > MaxAmountCents {
		f.Add("threshold_cents", "Enter a threshold in cents from 0 up.")
	}
	if a.TopUpAmountCents < 0 || a.TopUpAmountCents > MaxAmountCents {
		f.Add("top_up_amount_cents", "Enter an amount in cents from 0 up.")
	}
	if a.Enabled && a.TopUpAmountCents <= 0 {
		f.Add("top_up_amount_cents", "Enter the amount to add each time (more than 0).")
	}
	return f.Err()
}

// AutoTopUpFires reports whether a debit that takes the balance from before
// to after crosses the threshold: from at or above it to below it. Exactly
// one crossing per such debit, so the top-up it triggers (which raises the
// balance) can never trigger another by itself.
func AutoTopUpFires(a AutoTopUp, before, after int64) bool {
	return a.Enabled && a.TopUpAmountCents > 0 && after < before && before >= a.ThresholdCents && after < a.ThresholdCents
}

// ApprovalTTL is how long a pending approval waits before it expires.
const ApprovalTTL = 7 * 24 * time.Hour

// IdempotencyTTL is the least time an idempotency key is kept.
const IdempotencyTTL = 30 * 24 * time.Hour

// CanSeePackage is SPEC 10's visibility rule: public for anyone; org_only for
// members of the publishing org; private for the publishing account and the
// org's owners and admins. role is the viewer's role in the publishing org.
func CanSeePackage(visibility string, role Role, viewerID, publisherID int64) bool {
	switch visibility {
	case "public":
		return true
	case "org_only":
		return role.Valid()
	case "private":
		return (viewerID != 0 && viewerID == publisherID && role.Valid()) || role.atLeastAdmin()
	}
	return false
}

// ParseDollars reads an amount typed in a form ("12", "12.5", "$1,200.05")
// as cents. Empty is (0, false, nil): no value.
func ParseDollars(field, s string) (int64, bool, error) {
	s = strings.TrimSpace(strings.ReplaceAll(strings.TrimPrefix(strings.TrimSpace(s), "$"), ",", ""))
	if s == "" {
		return 0, false, nil
	}
	bad := InvalidField(field, "Enter an amount in dollars, like 25 or 12.50.")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" && !hasFrac || len(whole) > 10 || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, true, bad
	}
	var c int64
	for _, r := range whole {
		if r < '0' || r > '9' {
			return 0, true, bad
		}
		c = c*10 + int64(r-'0')
	}
	c *= 100
	if hasFrac {
		if len(frac) == 1 {
			frac += "0"
		}
		for i, r := range frac {
			if r < '0' || r > '9' {
				return 0, true, bad
			}
			if i == 0 {
				c += int64(r-'0') * 10
			} else {
				c += int64(r - '0')
			}
		}
	}
	if c > MaxAmountCents {
		return 0, true, InvalidField(field, "That amount is too large.")
	}
	return c, true, nil
}
