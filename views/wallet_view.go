package views

import (
	"strconv"
	"strings"
	"time"

	"guildhall/views/components"
)

// EntryRow is one wallet entry of the history table.
type EntryRow struct {
	ID       int64
	When     string
	WhenFull string
	Kind     string
	Amount   string
	Credit   bool
	After    string
	Actor    string
	Package  string
	PkgHref  string
	Note     string
}

// MoneyForm is a small money form's state (top-up, transfer).
type MoneyForm struct {
	Amount  string
	To      string
	Key     string // the idempotency key made when the form was rendered
	Errors  map[string]string
	Message string
}

// AutoTopUpForm is the auto top-up form's state.
type AutoTopUpForm struct {
	Enabled   bool
	Threshold string
	Amount    string
	Errors    map[string]string
}

// WalletView is the /wallet page.
type WalletView struct {
	Balance     string
	CanManage   bool // history, top-up, auto top-up (owner, admin, billing)
	CanTransfer bool // owner: move the balance to another workspace they own
	Provider    string
	AutoSummary string
	TopUp       MoneyForm
	Auto        AutoTopUpForm
	Transfer    MoneyForm
	Targets     []components.Option
	Entries     []EntryRow
	NextHref    string
	FirstHref   string
	Kind        string
	Member      string // the member filter as typed: an email or an account id
	MemberError string
	Kinds       []components.Option
	ExportHref  string
	Chart       SpendChart
}

// Bar is one day of the spending chart.
type Bar struct {
	X, Y, W, H string
	Title      string
}

// SpendChart is a server-rendered bar chart of spending by day.
type SpendChart struct {
	Bars       []Bar
	Total      string
	Max        string
	FirstLabel string
	LastLabel  string
	Empty      bool
}

// ChartWidth and ChartHeight are the SVG's view box.
const (
	ChartWidth  = 600
	ChartHeight = 140
)

// NewSpendChart lays out one bar per day, scaled to the largest day; money
// writes an amount (model.FormatCents).
func NewSpendChart(days []time.Time, cents []int64, money func(int64) string) SpendChart {
	c := SpendChart{Empty: true}
	if len(days) == 0 {
		return c
	}
	var maxV, total int64
	for _, v := range cents {
		total += v
		if v > maxV {
			maxV = v
		}
	}
	c.Total, c.Max, c.Empty = money(total), money(maxV), total == 0
	slot := float64(ChartWidth) / float64(len(days))
	w := slot * 0.7
	c.Bars = make([]Bar, 0, len(days))
	for i, d := range days {
		h := 0.0
		if maxV > 0 {
			h = float64(cents[i]) / float64(maxV) * (ChartHeight - 4)
		}
		if cents[i] > 0 && h < 2 {
			h = 2
		}
		c.Bars = append(c.Bars, Bar{
			X: f1(float64(i)*slot + (slot-w)/2), Y: f1(ChartHeight - h), W: f1(w), H: f1(h),
			Title: d.Format("Jan 2") + ": " + money(cents[i]),
		})
	}
	c.FirstLabel, c.LastLabel = days[0].Format("Jan 2"), days[len(days)-1].Format("Jan 2")
	return c
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func chartViewBox() string {
	return "0 0 " + strconv.Itoa(ChartWidth) + " " + strconv.Itoa(ChartHeight)
}

// PolicyRow is one spend policy as the page shows it.
type PolicyRow struct {
	ID        int64
	Name      string
	Active    bool
	IsDefault bool
	Limits    []string // "Max per purchase: $10.00", ...
	Vendors   string
	Blocked   string
	Today     string
	Month     string
	Form      PolicyForm
}

// PolicyForm is the create or edit form of a policy (amounts in dollars).
type PolicyForm struct {
	Name      string
	Max       string
	Daily     string
	Monthly   string
	Approval  string
	Vendors   string
	Blocked   map[string]bool
	Active    bool
	IsDefault bool
	Errors    map[string]string
	Message   string
}

// PoliciesView is the /policies page.
type PoliciesView struct {
	CanManage bool
	Rows      []PolicyRow
	Form      PolicyForm
	Types     []string
	OpenID    int64 // the policy whose edit form is open (after an error)
}

// ApprovalRow is one approval of the queue.
type ApprovalRow struct {
	ID        int64
	Package   string
	PkgHref   string
	Buyer     string
	Amount    string
	Status    string
	Reason    string
	Requested string
	Expires   string
	CanDecide bool
	Error     string
}

// ApprovalsView is the /approvals page.
type ApprovalsView struct {
	CanDecide bool
	Status    string
	Statuses  []components.Option
	Rows      []ApprovalRow
}

// PackageCard is one package of the catalogue.
type PackageCard struct {
	ID          int64
	Slug        string
	Name        string
	Type        string
	Vendor      string
	Price       string
	Free        bool
	Visibility  string
	Description string
	Href        string
}

// PackagesView is the /packages catalogue.
type PackagesView struct {
	SignedIn   bool
	CanPublish bool
	Query      string
	Type       string
	Types      []components.Option
	Cards      []PackageCard
	Pager      components.Pager // CataloguePageSize packages a page
}

// PackageView is /packages/{id}.
type PackageView struct {
	Card         PackageCard
	SignedIn     bool
	Workspace    string
	CanBuy       bool
	BuyRefusal   string
	Owned        bool
	Status       string // "", pending_approval, rejected, expired
	Reason       string
	Key          string
	CanEdit      bool
	CanDownload  bool
	Manifest     string
	ShowManifest bool
	Error        string
}

// PackageForm is the publish or edit form.
type PackageForm struct {
	ID           int64 // 0 when publishing
	Slug         string
	Name         string
	Type         string
	Description  string
	Price        string
	Visibility   string
	Saved        string // the stored visibility when editing: widening it asks first
	Manifest     string
	Types        []components.Option
	Visibilities []components.Option
	Errors       map[string]string
	Message      string
}

// EntitlementRow is one package the workspace owns.
type EntitlementRow struct {
	Name   string
	Href   string
	Type   string
	Vendor string
	Since  string
}

// transferTargets adds to each workspace a transfer can go to the sentence
// the confirmation dialog shows ({amount} is filled in by app.js).
func transferTargets(ts []components.Option) []components.Option {
	out := make([]components.Option, len(ts))
	for i, o := range ts {
		o.Consequence = "Moves ${amount} from this workspace's wallet to " + o.Label + ". Only an owner of " + o.Label + " can move it back."
		out[i] = o
	}
	return out
}

// visibilityRank orders visibilities from the fewest viewers to the most.
var visibilityRank = map[string]int{"private": 0, "org_only": 1, "public": 2}

// visibilityChoices marks the visibilities more public than the stored one,
// so saving one of them asks first (who newly sees the package).
func visibilityChoices(f PackageForm) []components.Option {
	out := make([]components.Option, len(f.Visibilities))
	for i, o := range f.Visibilities {
		if f.ID != 0 && f.Saved != "" && visibilityRank[o.Value] > visibilityRank[f.Saved] {
			switch o.Value {
			case "public":
				o.Consequence = "Anyone, signed in or not, will see " + f.Name + " in the catalogue, and any workspace can buy it."
			case "org_only":
				o.Consequence = "Every member of this workspace will see " + f.Name + " and can buy it."
			}
		}
		out[i] = o
	}
	return out
}

// policyDeleteConsequences says what deleting a policy changes.
func policyDeleteConsequences(r PolicyRow) []string {
	out := []string{"API tokens bound to it fall back to the default policy."}
	if r.IsDefault {
		out = append(out, "It is the default: browser purchases are then limited only by the balance until another policy is made the default.")
	}
	return out
}

// kindLabel words a ledger kind as the filter does ("top_up" → "top up").
func kindLabel(kind string) string { return strings.ReplaceAll(kind, "_", " ") }
