package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// cents shows integer cents as dollars.
func cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s$%d.%02d", sign, c/100, c%100)
}

// activeOrg is the org a money verb acts on: --org, else the active org,
// else the personal workspace (looked up through GET /api/me).
func (r *runner) activeOrg(c *client, cfg Config, flagOrg string) (orgView, error) {
	ref := strings.TrimSpace(flagOrg)
	if ref == "" {
		ref = cfg.orgRef()
	}
	if ref == "" || strings.EqualFold(ref, "none") {
		var me struct {
			Personal orgView `json:"personal_org"`
		}
		if err := c.do(r.ctx, http.MethodGet, "/api/me", nil, &me); err != nil {
			return orgView{}, err
		}
		return me.Personal, nil
	}
	var org orgView
	err := c.do(r.ctx, http.MethodGet, orgPath(ref), nil, &org)
	return org, err
}

func orgLabel(o orgView) string {
	if o.Kind == "personal" {
		return "your personal workspace"
	}
	return o.DisplayName + " (" + o.Slug + ")"
}

// orgWallet is "org wallet [--org SLUG]": the balance, and the recent
// entries for roles that may read them.
func (r *runner) orgWallet(args []string) error {
	fs := flags("org wallet")
	flagOrg := fs.String("org", "", "the organization (default: the active one)")
	limit := fs.Int("n", 10, "how many recent entries to show")
	pos, err := r.parse(fs, "guildhall org wallet [--org SLUG] [-n N]", args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("org wallet takes no arguments")
	}
	if *limit < 1 || *limit > 200 {
		return usagef("-n must be from 1 to 200")
	}
	_, cfg, err := r.session()
	if err != nil {
		return err
	}
	c := r.client(cfg)
	org, err := r.activeOrg(c, cfg, *flagOrg)
	if err != nil {
		return err
	}
	var w struct {
		Balance   int64  `json:"balance_cents"`
		Provider  string `json:"provider"`
		AutoTopUp struct {
			Enabled   bool  `json:"enabled"`
			Threshold int64 `json:"threshold_cents"`
			Amount    int64 `json:"top_up_amount_cents"`
		} `json:"auto_top_up"`
	}
	base := orgPath(fmt.Sprint(org.ID))
	if err := c.do(r.ctx, http.MethodGet, base+"/wallet", nil, &w); err != nil {
		return err
	}
	r.out("Wallet of %s\n  balance:      %s\n", orgLabel(org), cents(w.Balance))
	var entries []struct {
		Kind      string `json:"kind"`
		Amount    int64  `json:"amount_cents"`
		After     int64  `json:"balance_after_cents"`
		UserID    *int64 `json:"user_id"`
		PackageID *int64 `json:"package_id"`
		CreatedAt string `json:"created_at"`
	}
	err = c.do(r.ctx, http.MethodGet, base+"/wallet/transactions?limit="+fmt.Sprint(*limit), nil, &entries)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == "forbidden" {
		r.out("Your role (%s) sees the balance only; owners, admins and billing members see the entries.\n", org.Role)
		return nil
	}
	if err != nil {
		return err
	}
	if w.AutoTopUp.Enabled {
		r.out("  auto top-up:  adds %s when the balance falls below %s\n", cents(w.AutoTopUp.Amount), cents(w.AutoTopUp.Threshold))
	} else {
		r.out("  auto top-up:  off\n")
	}
	if len(entries) == 0 {
		r.out("No entries yet.\n")
		return nil
	}
	r.out("Recent entries (newest first):\n")
	for _, e := range entries {
		when := e.CreatedAt
		if t, err := time.Parse(time.RFC3339, e.CreatedAt); err == nil {
			when = t.UTC().Format("2006-01-02 15:04")
		}
		amount := cents(e.Amount)
		if e.Amount > 0 {
			amount = "+" + amount
		}
		extra := ""
		if e.PackageID != nil {
			extra += fmt.Sprintf("  package %d", *e.PackageID)
		}
		if e.UserID != nil {
			extra += fmt.Sprintf("  by user %d", *e.UserID)
		}
		r.out("  %s  %-12s %10s  balance %s%s\n", when, e.Kind, amount, cents(e.After), extra)
	}
	return nil
}

// newKey is a fresh idempotency key for one invocation.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "cli_" + hex.EncodeToString(b)
}

// buy is "buy PACKAGE [--org SLUG] [--json]": POST /api/packages/{id}/buy
// for the active org (or --org), which honours "org switch".
func (r *runner) buy(args []string) error {
	fs := flags("buy")
	flagOrg := fs.String("org", "", "the organization whose wallet pays (default: the active one)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := r.parse(fs, "guildhall buy PACKAGE [--org SLUG] [--json]", args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usagef("buy needs one PACKAGE (its slug or id)")
	}
	_, cfg, err := r.session()
	if err != nil {
		return err
	}
	c := r.client(cfg)
	org, err := r.activeOrg(c, cfg, *flagOrg)
	if err != nil {
		return err
	}
	c.headers = map[string]string{"Idempotency-Key": newKey()}
	var raw json.RawMessage
	if err := c.do(r.ctx, http.MethodPost, "/api/packages/"+url.PathEscape(strings.TrimSpace(pos[0]))+"/buy",
		map[string]any{"org": org.ID}, &raw); err != nil {
		return err
	}
	if *asJSON {
		r.out("%s\n", raw)
		return nil
	}
	var res struct {
		Status   string `json:"status"`
		Purchase struct {
			Slug       string `json:"package_slug"`
			Amount     int64  `json:"amount_cents"`
			Balance    int64  `json:"balance_after_cents"`
			ApprovalID *int64 `json:"approval_id"`
			AutoTopUp  bool   `json:"auto_top_up"`
		} `json:"purchase"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	p := res.Purchase
	switch {
	case res.Status == "pending_approval":
		r.out("%s needs approval: request #%d waits for an owner or admin of %s (it expires in 7 days).\n", p.Slug, deref(p.ApprovalID), orgLabel(org))
	case p.Amount == 0:
		r.out("Installed %s for %s (free).\n", p.Slug, orgLabel(org))
	default:
		r.out("Bought %s for %s from the wallet of %s. Balance: %s.\n", p.Slug, cents(p.Amount), orgLabel(org), cents(p.Balance))
		if p.AutoTopUp {
			r.out("Auto top-up refilled the wallet.\n")
		}
	}
	return nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
