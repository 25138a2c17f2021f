package model

import (
	"math"
	"testing"
	"time"
)

func cents(v int64) *int64 { return &v }

// strict is a policy where every step can fail, so each row of the table
// below fails exactly at its own step and passes every step before it.
func strict() *SpendPolicy {
	return &SpendPolicy{Name: "Engineering", Active: true,
		BlockedTypes:              []string{"mcp_server"},
		VendorAllowlist:           []string{"trusted"},
		MaxPerPurchaseCents:       cents(1000),
		DailyLimitCents:           cents(5000),
		MonthlyLimitCents:         cents(20000),
		RequireApprovalAboveCents: cents(500),
	}
}

func okFacts() PurchaseFacts {
	return PurchaseFacts{Role: RoleMember, Visible: true, PackageType: "skill", Vendor: "trusted",
		PriceCents: 400, Policy: strict(), SpentToday: 0, SpentMonth: 0, BalanceCents: 10000}
}

// TestDecidePurchaseOrder has one row per step of SPEC 9, in order. Each row
// breaks its own step and every later one, so the row passes only if the
// steps are checked in the spec's order.
func TestDecidePurchaseOrder(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(f *PurchaseFacts)
		outcome Outcome
		code    Code
	}{
		{"1 role: billing cannot buy", func(f *PurchaseFacts) {
			f.Role = RoleBilling
			f.Visible = false
			f.PackageType = "mcp_server"
		}, OutcomeRefused, CodeForbidden},
		{"1 role: not a member is not found", func(f *PurchaseFacts) { f.Role = ""; f.Visible = false }, OutcomeRefused, CodeNotFound},
		{"2 visibility", func(f *PurchaseFacts) { f.Visible = false; f.PackageType = "mcp_server"; f.Vendor = "x" }, OutcomeRefused, CodeNotFound},
		{"3 blocked_type", func(f *PurchaseFacts) { f.PackageType = "mcp_server"; f.Vendor = "x"; f.PriceCents = 99999 }, OutcomeRefused, CodeBlockedType},
		{"4 vendor_not_allowed", func(f *PurchaseFacts) { f.Vendor = "shady"; f.PriceCents = 99999 }, OutcomeRefused, CodeVendorNotAllowed},
		{"5 over_max_per_purchase", func(f *PurchaseFacts) { f.PriceCents = 1001; f.SpentToday = 5000; f.BalanceCents = 0 }, OutcomeRefused, CodeOverMaxPerPurchase},
		{"6 over_daily_limit", func(f *PurchaseFacts) { f.SpentToday = 4700; f.SpentMonth = 20000; f.BalanceCents = 0 }, OutcomeRefused, CodeOverDailyLimit},
		{"6 daily limit reached exactly is fine", func(f *PurchaseFacts) { f.SpentToday = 4600 }, OutcomeDebit, ""},
		{"7 over_monthly_limit", func(f *PurchaseFacts) { f.SpentMonth = 19700; f.PriceCents = 600; f.BalanceCents = 0 }, OutcomeRefused, CodeOverMonthlyLimit},
		{"8 above the approval threshold waits, even without funds", func(f *PurchaseFacts) { f.PriceCents = 501; f.BalanceCents = 0 }, OutcomePending, ""},
		{"8 at the threshold needs no approval", func(f *PurchaseFacts) { f.PriceCents = 500 }, OutcomeDebit, ""},
		{"8 approved: threshold passed, funds still checked", func(f *PurchaseFacts) { f.PriceCents = 900; f.Approved = true }, OutcomeDebit, ""},
		{"9 insufficient_funds", func(f *PurchaseFacts) { f.BalanceCents = 399 }, OutcomeRefused, CodeInsufficientFunds},
		{"9 approved but insufficient funds", func(f *PurchaseFacts) { f.PriceCents = 900; f.Approved = true; f.BalanceCents = 800 }, OutcomeRefused, CodeInsufficientFunds},
		{"10 debit", func(f *PurchaseFacts) {}, OutcomeDebit, ""},
		{"10 exact balance", func(f *PurchaseFacts) { f.BalanceCents = 400 }, OutcomeDebit, ""},
		{"inactive policy imposes nothing", func(f *PurchaseFacts) { f.Policy.Active = false; f.PackageType = "mcp_server"; f.PriceCents = 9000 }, OutcomeDebit, ""},
		{"no policy imposes nothing", func(f *PurchaseFacts) { f.Policy = nil; f.Vendor = "any"; f.PriceCents = 9000 }, OutcomeDebit, ""},
		{"empty allowlist allows any vendor", func(f *PurchaseFacts) { f.Policy.VendorAllowlist = nil; f.Vendor = "any" }, OutcomeDebit, ""},
		{"null limits are no limits", func(f *PurchaseFacts) {
			f.Policy = &SpendPolicy{Name: "open", Active: true}
			f.PriceCents, f.SpentToday, f.SpentMonth = 9000, 1e9, 1e10
		}, OutcomeDebit, ""},
		{"free package installs with no funds", func(f *PurchaseFacts) { f.PriceCents = 0; f.BalanceCents = 0 }, OutcomeDebit, ""},
		{"admin buys too", func(f *PurchaseFacts) { f.Role = RoleAdmin }, OutcomeDebit, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := okFacts()
			tt.mod(&f)
			got, err := DecidePurchase(f)
			if got != tt.outcome {
				t.Fatalf("outcome %v, want %v (err %v)", got, tt.outcome, err)
			}
			wantCode(t, err, tt.code, "")
		})
	}
}

func TestAutoTopUpFires(t *testing.T) {
	on := AutoTopUp{Enabled: true, ThresholdCents: 2000, TopUpAmountCents: 10000}
	tests := []struct {
		name          string
		a             AutoTopUp
		before, after int64
		want          bool
	}{
		{"crosses from above", on, 2500, 1500, true},
		{"crosses from exactly the threshold", on, 2000, 1999, true},
		{"stays above", on, 5000, 2000, false},
		{"already below", on, 1999, 100, false},
		{"credit never fires", on, 100, 10100, false},
		{"disabled", AutoTopUp{ThresholdCents: 2000, TopUpAmountCents: 10000}, 2500, 1500, false},
		{"no amount", AutoTopUp{Enabled: true, ThresholdCents: 2000}, 2500, 1500, false},
		{"threshold 0 never crosses", AutoTopUp{Enabled: true, TopUpAmountCents: 100}, 100, 0, false},
	}
	for _, tt := range tests {
		if got := AutoTopUpFires(tt.a, tt.before, tt.after); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestAutoTopUpValidate(t *testing.T) {
	wantCode(t, AutoTopUp{Enabled: true, ThresholdCents: 100}.Validate(), CodeValidation, "top_up_amount_cents")
	wantCode(t, AutoTopUp{ThresholdCents: -1}.Validate(), CodeValidation, "threshold_cents")
	wantCode(t, AutoTopUp{}.Validate(), "", "")
	wantCode(t, AutoTopUp{Enabled: true, ThresholdCents: 0, TopUpAmountCents: 5}.Validate(), "", "")
}

func TestValidatePolicy(t *testing.T) {
	ok := SpendPolicy{Name: "Team", MaxPerPurchaseCents: cents(0), BlockedTypes: []string{"skill"}, VendorAllowlist: []string{"acme"}}
	wantCode(t, ValidatePolicy(ok), "", "")
	bad := ok
	bad.Name = " "
	wantCode(t, ValidatePolicy(bad), CodeValidation, "name")
	bad = ok
	bad.DailyLimitCents = cents(-5)
	wantCode(t, ValidatePolicy(bad), CodeValidation, "daily_limit_cents")
	bad = ok
	bad.BlockedTypes = []string{"rocket"}
	wantCode(t, ValidatePolicy(bad), CodeValidation, "blocked_types")
	bad = ok
	bad.VendorAllowlist = []string{"Not A Slug"}
	wantCode(t, ValidatePolicy(bad), CodeValidation, "vendor_allowlist")
}

func TestWindowsAreUTC(t *testing.T) {
	// 23:30 on Jan 31 in New York is Feb 1 in UTC: the windows follow UTC.
	ny := time.FixedZone("EST", -5*3600)
	at := time.Date(2026, 1, 31, 23, 30, 0, 0, ny)
	if d := DayWindow(at); !d.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("day window %v", d)
	}
	if m := MonthWindow(at); !m.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("month window %v", m)
	}
}

func TestCanSeePackage(t *testing.T) {
	tests := []struct {
		vis       string
		role      Role
		viewer    int64
		publisher int64
		want      bool
	}{
		{"public", "", 0, 1, true},
		{"org_only", "", 5, 1, false},
		{"org_only", RoleBilling, 5, 1, true},
		{"private", RoleMember, 5, 1, false},
		{"private", RoleMember, 1, 1, true},
		{"private", "", 1, 1, false},
		{"private", RoleAdmin, 5, 1, true},
		{"private", RoleOwner, 5, 1, true},
		{"private", "", 0, 0, false},
		{"bogus", RoleOwner, 1, 1, false},
	}
	for _, tt := range tests {
		if got := CanSeePackage(tt.vis, tt.role, tt.viewer, tt.publisher); got != tt.want {
			t.Errorf("%+v: got %v", tt, got)
		}
	}
}

func TestFormatCents(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "$0.00"}, {5, "$0.05"}, {10, "$0.10"}, {99, "$0.99"}, {100, "$1.00"}, {1234, "$12.34"}, {-250, "-$2.50"},
		{99999, "$999.99"}, {100000, "$1,000.00"}, {123405, "$1,234.05"}, {-123405, "-$1,234.05"},
		{100000000, "$1,000,000.00"}, {50680000, "$506,800.00"},
		{math.MaxInt64, "$92,233,720,368,547,758.07"}, {math.MinInt64, "-$92,233,720,368,547,758.08"},
	} {
		if got := FormatCents(c.in); got != c.want {
			t.Errorf("FormatCents(%d) = %q, want %q", c.in, got, c.want)
		}
		// What the pages show, the forms read back.
		if c.in >= 0 {
			if back, _, err := ParseDollars("amount", FormatCents(c.in)); c.in < 1e15 && (err != nil || back != c.in) {
				t.Errorf("ParseDollars(%q) = %d, %v", FormatCents(c.in), back, err)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = FormatCents(123405) }); n > 1 {
		t.Errorf("FormatCents allocates %v times, want 1", n)
	}
}

func TestParseDollars(t *testing.T) {
	good := map[string]int64{"12": 1200, "12.5": 1250, "12.05": 1205, "$1,200.99": 120099, ".5": 50, "0": 0, " 3 ": 300}
	for in, want := range good {
		got, set, err := ParseDollars("amount", in)
		if err != nil || !set || got != want {
			t.Errorf("%q: %d %v %v", in, got, set, err)
		}
	}
	if _, set, err := ParseDollars("amount", "  "); set || err != nil {
		t.Error("blank is no value")
	}
	for _, in := range []string{"-5", "1.234", "abc", "1.", "1e3", "99999999999", "1.-5"} {
		if _, _, err := ParseDollars("amount", in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
