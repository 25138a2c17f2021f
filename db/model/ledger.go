package model

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Wallet is an org's wallet: its balance (always the sum of its postings) and
// its auto top-up setting.
type Wallet struct {
	OrgID        int64 `db:"org_id" json:"org_id"`
	BalanceCents int64 `db:"balance_cents" json:"balance_cents"`
	AutoTopUp    `json:"auto_top_up"`
	Crossings    int64     `db:"crossings" json:"-"`
	UpdatedAt    time.Time `db:"updated_at" json:"updated_at"`
}

// LedgerEntry is one posting on a wallet, as the wallet's history shows it.
type LedgerEntry struct {
	ID                int64     `db:"id" json:"id"`
	TxnID             int64     `db:"txn_id" json:"transaction_id"`
	OrgID             int64     `db:"org_id" json:"org_id"`
	Kind              string    `db:"kind" json:"kind"`
	AmountCents       int64     `db:"amount_cents" json:"amount_cents"`
	BalanceAfterCents int64     `db:"balance_after_cents" json:"balance_after_cents"`
	AccountID         *int64    `db:"account_id" json:"user_id"`
	TokenID           *int64    `db:"token_id" json:"token_id"`
	PackageID         *int64    `db:"package_id" json:"package_id"`
	Note              string    `db:"note" json:"note"`
	CreatedAt         time.Time `db:"created_at" json:"created_at"`
	// For display: the actor's email and the package's name, when known.
	ActorEmail  string `db:"actor_email" json:"-"`
	PackageName string `db:"package_name" json:"-"`
}

// EntryFilter narrows a wallet's history; Before is the keyset cursor.
type EntryFilter struct {
	Kind   string
	UserID int64
	Before int64
	Limit  int
	// NoNames leaves ActorEmail and PackageName empty: the caller shows
	// neither (the API's entries carry ids), so they are not looked up.
	NoNames bool
}

// Package is a marketplace listing (SPEC 10).
type Package struct {
	ID          int64     `db:"id" json:"id"`
	OrgID       int64     `db:"org_id" json:"org_id"`
	PublisherID *int64    `db:"publisher_id" json:"publisher_id"`
	Vendor      string    `db:"vendor" json:"vendor"`
	VendorName  string    `db:"vendor_name" json:"vendor_name"`
	Slug        string    `db:"slug" json:"slug"`
	Name        string    `db:"name" json:"name"`
	Type        string    `db:"type" json:"type"`
	Description string    `db:"description" json:"description"`
	PriceCents  int64     `db:"price_cents" json:"price_cents"`
	Visibility  string    `db:"visibility" json:"visibility"`
	Manifest    string    `db:"manifest" json:"-"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
}

// Free reports whether buying the package is installing it.
func (p Package) Free() bool { return p.PriceCents == 0 }

// PackageInput is what publishing or editing a package takes; nil = unchanged.
type PackageInput struct {
	Slug        *string
	Name        *string
	Type        *string
	Description *string
	PriceCents  *int64
	Visibility  *string
	Manifest    *string
}

// ApplyPackageInput validates in and applies it to p (a new package when
// creating, so every required field must then be set).
func ApplyPackageInput(p *Package, in PackageInput, creating bool) error {
	f := Fields{}
	if in.Slug != nil {
		p.Slug = strings.ToLower(strings.TrimSpace(*in.Slug))
		if !validPackageSlug(p.Slug) {
			f.Add("slug", "Use 2 to 64 lowercase letters, digits and hyphens, not starting or ending with a hyphen.")
		}
	} else if creating {
		f.Add("slug", "Slug is required.")
	}
	if in.Name != nil {
		p.Name = strings.TrimSpace(*in.Name)
		if err := ValidateName(p.Name, "name"); err != nil {
			e, _ := AsError(err)
			f.Add("name", e.Fields["name"])
		}
	} else if creating {
		f.Add("name", "Name is required.")
	}
	if in.Type != nil {
		p.Type = strings.TrimSpace(*in.Type)
		if !contains(PackageTypes, p.Type) {
			f.Add("type", "Choose a type: "+strings.Join(PackageTypes, ", ")+".")
		}
	} else if creating {
		f.Add("type", "Choose a type: "+strings.Join(PackageTypes, ", ")+".")
	}
	if in.Visibility != nil {
		p.Visibility = strings.TrimSpace(*in.Visibility)
		if !contains(PackageVisibilities, p.Visibility) {
			f.Add("visibility", "Choose a visibility: public, org_only or private.")
		}
	} else if creating {
		f.Add("visibility", "Choose a visibility: public, org_only or private.")
	}
	if in.PriceCents != nil {
		p.PriceCents = *in.PriceCents
		if p.PriceCents < 0 || p.PriceCents > MaxAmountCents {
			f.Add("price_cents", "Enter a price in cents from 0 (free) up.")
		}
	}
	if in.Description != nil {
		p.Description = strings.TrimSpace(*in.Description)
		if !ValidText(p.Description) || utf8.RuneCountInString(p.Description) > 2000 {
			f.Add("description", "Keep the description to 2,000 characters of text.")
		}
	}
	if in.Manifest != nil {
		p.Manifest = *in.Manifest
		if !ValidText(p.Manifest) || len(p.Manifest) > 64<<10 {
			f.Add("manifest", "The manifest must be text of at most 64 KiB.")
		}
	}
	return f.Err()
}

func validPackageSlug(s string) bool {
	if len(s) < 2 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Approval is a purchase above a policy's threshold, waiting for an admin.
type Approval struct {
	ID          int64      `db:"id" json:"id"`
	OrgID       int64      `db:"org_id" json:"org_id"`
	PackageID   int64      `db:"package_id" json:"package_id"`
	PackageName string     `db:"package_name" json:"package_name"`
	RequestedBy *int64     `db:"requested_by" json:"requested_by"`
	BuyerEmail  string     `db:"buyer_email" json:"buyer_email"`
	TokenID     *int64     `db:"token_id" json:"token_id"`
	PolicyID    *int64     `db:"policy_id" json:"policy_id"`
	AmountCents int64      `db:"amount_cents" json:"amount_cents"`
	Status      string     `db:"status" json:"status"`
	Reason      string     `db:"reason" json:"reason"`
	DecidedBy   *int64     `db:"decided_by" json:"decided_by"`
	DecidedAt   *time.Time `db:"decided_at" json:"decided_at"`
	ExpiresAt   time.Time  `db:"expires_at" json:"expires_at"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
}

// Purchase is a completed purchase (or install of a free package).
type Purchase struct {
	ID          int64     `db:"id" json:"id"`
	OrgID       int64     `db:"org_id" json:"org_id"`
	PackageID   int64     `db:"package_id" json:"package_id"`
	AccountID   *int64    `db:"account_id" json:"user_id"`
	TokenID     *int64    `db:"token_id" json:"token_id"`
	PolicyID    *int64    `db:"policy_id" json:"policy_id"`
	AmountCents int64     `db:"amount_cents" json:"amount_cents"`
	TxnID       *int64    `db:"txn_id" json:"transaction_id"`
	ApprovalID  *int64    `db:"approval_id" json:"approval_id"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}

// Entitlement records that an org owns a package.
type Entitlement struct {
	OrgID       int64     `db:"org_id" json:"org_id"`
	PackageID   int64     `db:"package_id" json:"package_id"`
	PackageSlug string    `db:"package_slug" json:"package_slug"`
	PackageName string    `db:"package_name" json:"package_name"`
	PackageType string    `db:"package_type" json:"package_type"`
	Vendor      string    `db:"vendor" json:"vendor"`
	PurchaseID  int64     `db:"purchase_id" json:"purchase_id"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}
