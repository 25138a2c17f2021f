package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/web/request"
)

// DecisionSender emails a buyer when their approval is decided.
type DecisionSender interface {
	SendApprovalDecision(ctx context.Context, a model.Approval, orgName string) error
}

// Wallet is the money side of the API: wallet, policies, approvals,
// packages and entitlements.
type Wallet struct {
	*Base
	Mail DecisionSender
}

// idempotencyKey reads the Idempotency-Key header.
func idempotencyKey(c echo.Context) string { return c.Request().Header.Get("Idempotency-Key") }

// replayed marks an answer repeated from an idempotency key.
func replayed(c echo.Context, yes bool) {
	if yes {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
}

// requireScope refuses a token that lacks scope (admin covers every scope).
func requireScope(c echo.Context, scope string) error {
	if t, ok := request.Token(c); ok && !t.HasScope(scope) && !t.HasScope(model.ScopeAdmin) {
		return model.Forbidden("This token lacks the %s scope.", scope)
	}
	return nil
}

type walletView struct {
	OrgID        int64           `json:"org_id"`
	BalanceCents int64           `json:"balance_cents"`
	AutoTopUp    model.AutoTopUp `json:"auto_top_up"`
	Provider     string          `json:"provider"`
}

// GetWallet is GET /api/orgs/{org}/wallet.
func (h *Wallet) GetWallet(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	w, err := h.Store.Wallet(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	v := walletView{OrgID: ws.ID, BalanceCents: w.BalanceCents, Provider: h.Store.ProviderName()}
	if model.Can(ws.Role, model.ActManageWallet) {
		v.AutoTopUp = w.AutoTopUp
	}
	return OK(c, http.StatusOK, v)
}

// TopUp is POST /api/orgs/{org}/wallet/top-up.
func (h *Wallet) TopUp(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in struct {
		AmountCents *int64 `json:"amount_cents"`
	}
	if err := Bind(c, &in); err != nil {
		return err
	}
	if in.AmountCents == nil {
		return model.InvalidField("amount_cents", "amount_cents is required.")
	}
	res, rep, err := h.Store.TopUp(c.Request().Context(), request.Actor(c), ws.ID, *in.AmountCents, idempotencyKey(c))
	if err != nil {
		return err
	}
	replayed(c, rep)
	return OK(c, http.StatusCreated, res)
}

// AutoTopUp is PATCH /api/orgs/{org}/wallet/auto-top-up: fields left out
// keep their value.
func (h *Wallet) AutoTopUp(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in struct {
		Enabled          *bool  `json:"enabled"`
		ThresholdCents   *int64 `json:"threshold_cents"`
		TopUpAmountCents *int64 `json:"top_up_amount_cents"`
	}
	if err := Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	w, err := h.Store.Wallet(ctx, request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	a := w.AutoTopUp
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	if in.ThresholdCents != nil {
		a.ThresholdCents = *in.ThresholdCents
	}
	if in.TopUpAmountCents != nil {
		a.TopUpAmountCents = *in.TopUpAmountCents
	}
	a, err = h.Store.SetAutoTopUp(ctx, request.Actor(c), ws.ID, a)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, a)
}

// Transactions is GET /api/orgs/{org}/wallet/transactions?kind=&user_id=&cursor=.
func (h *Wallet) Transactions(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	f, err := ParseEntryFilter(c)
	if err != nil {
		return err
	}
	f.NoNames = true // the API's entries carry the actor's and package's ids
	page, err := h.Store.Entries(c.Request().Context(), request.Actor(c), ws.ID, f)
	if err != nil {
		return err
	}
	es := page.Entries
	if es == nil {
		es = []model.LedgerEntry{}
	}
	p := NewCursor(page.Next)
	return handJSON(c, http.StatusOK, ledgerListSize(es), func(b []byte) []byte { return appendLedgerList(b, es, p) },
		func() any { return Envelope{Success: true, Data: es, Pagination: p} })
}

// ParseEntryFilter reads kind, user_id, cursor and limit.
func ParseEntryFilter(c echo.Context) (model.EntryFilter, error) {
	q := c.QueryParams()
	f := model.EntryFilter{Kind: strings.TrimSpace(q.Get("kind"))}
	fields := model.Fields{}
	num := func(name string) int64 {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			fields.Add(name, name+" must be a positive number.")
		}
		return n
	}
	f.UserID, f.Before, f.Limit = num("user_id"), num("cursor"), int(num("limit"))
	if f.Limit > 200 {
		fields.Add("limit", "limit must be a number from 1 to 200.")
	}
	return f, fields.Err()
}

// Transfer is POST /api/orgs/{org}/wallet/transfer.
func (h *Wallet) Transfer(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in struct {
		ToOrg       json.RawMessage `json:"to_org"`
		AmountCents *int64          `json:"amount_cents"`
	}
	if err := Bind(c, &in); err != nil {
		return err
	}
	ref, err := orgRef(in.ToOrg)
	if err != nil || ref == "" {
		return model.InvalidField("to_org", "to_org must name a workspace you own (id or slug).")
	}
	if in.AmountCents == nil {
		return model.InvalidField("amount_cents", "amount_cents is required.")
	}
	to, err := h.Store.Workspace(c.Request().Context(), Account(c).ID, ref)
	if err != nil {
		return model.InvalidField("to_org", "to_org must name a workspace you own (id or slug).")
	}
	res, rep, err := h.Store.TransferCredits(c.Request().Context(), request.Actor(c), ws.ID, to.ID, *in.AmountCents, idempotencyKey(c))
	if err != nil {
		return err
	}
	replayed(c, rep)
	return OK(c, http.StatusCreated, res)
}

// ---- policies ----

// optCents is a JSON field that may be absent, null (no limit) or a number.
type optCents struct {
	Set bool
	V   *int64
}

func (o *optCents) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.V = nil
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.V = &v
	return nil
}

type policyBody struct {
	Name                      *string   `json:"name"`
	MaxPerPurchaseCents       optCents  `json:"max_per_purchase_cents"`
	DailyLimitCents           optCents  `json:"daily_limit_cents"`
	MonthlyLimitCents         optCents  `json:"monthly_limit_cents"`
	RequireApprovalAboveCents optCents  `json:"require_approval_above_cents"`
	VendorAllowlist           *[]string `json:"vendor_allowlist"`
	BlockedTypes              *[]string `json:"blocked_types"`
	Active                    *bool     `json:"active"`
	IsDefault                 *bool     `json:"is_default"`
}

func (b policyBody) input() db.PolicyInput {
	return db.PolicyInput{Name: b.Name,
		MaxPerPurchaseCents: b.MaxPerPurchaseCents.V, SetMaxPerPurchase: b.MaxPerPurchaseCents.Set,
		DailyLimitCents: b.DailyLimitCents.V, SetDaily: b.DailyLimitCents.Set,
		MonthlyLimitCents: b.MonthlyLimitCents.V, SetMonthly: b.MonthlyLimitCents.Set,
		RequireApprovalAboveCents: b.RequireApprovalAboveCents.V, SetApproval: b.RequireApprovalAboveCents.Set,
		VendorAllowlist: b.VendorAllowlist, BlockedTypes: b.BlockedTypes, Active: b.Active, IsDefault: b.IsDefault}
}

// CreatePolicy is POST /api/orgs/{org}/policies.
func (h *Wallet) CreatePolicy(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in policyBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	p, err := h.Store.CreatePolicy(c.Request().Context(), request.Actor(c), ws.ID, in.input())
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, p)
}

// Policies is GET /api/orgs/{org}/policies.
func (h *Wallet) Policies(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	ps, err := h.Store.Policies(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []model.SpendPolicy{}
	}
	return List(c, ps, NewPagePagination(1, len(ps), len(ps)))
}

// Policy is GET /api/orgs/{org}/policies/{id}.
func (h *Wallet) Policy(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "policy")
	if err != nil {
		return err
	}
	p, err := h.Store.Policy(c.Request().Context(), request.Actor(c), ws.ID, id)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, p)
}

// UpdatePolicy is PATCH /api/orgs/{org}/policies/{id}.
func (h *Wallet) UpdatePolicy(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "policy")
	if err != nil {
		return err
	}
	var in policyBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	p, err := h.Store.UpdatePolicy(c.Request().Context(), request.Actor(c), ws.ID, id, in.input())
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, p)
}

// DeletePolicy is DELETE /api/orgs/{org}/policies/{id}.
func (h *Wallet) DeletePolicy(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "policy")
	if err != nil {
		return err
	}
	if err := h.Store.DeletePolicy(c.Request().Context(), request.Actor(c), ws.ID, id); err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"deleted": true, "id": id})
}

// ---- approvals ----

// Approvals is GET /api/orgs/{org}/approvals?status=.
func (h *Wallet) Approvals(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	as, err := h.Store.Approvals(c.Request().Context(), request.Actor(c), ws.ID, strings.TrimSpace(c.QueryParam("status")))
	if err != nil {
		return err
	}
	if as == nil {
		as = []model.Approval{}
	}
	return List(c, as, NewPagePagination(1, len(as), len(as)))
}

// Approve is POST /api/orgs/{org}/approvals/{id}/approve.
func (h *Wallet) Approve(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "approval")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, res, err := h.Store.Approve(ctx, request.Actor(c), ws.ID, id)
	if err != nil {
		return err
	}
	if err := h.Mail.SendApprovalDecision(ctx, a, ws.DisplayName); err != nil {
		c.Logger().Errorf("approval email: %v", err)
	}
	return OK(c, http.StatusOK, map[string]any{"approval": a, "purchase": res.Purchase})
}

// Reject is POST /api/orgs/{org}/approvals/{id}/reject.
func (h *Wallet) Reject(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "approval")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := h.Store.Reject(ctx, request.Actor(c), ws.ID, id, in.Reason)
	if err != nil {
		return err
	}
	if err := h.Mail.SendApprovalDecision(ctx, a, ws.DisplayName); err != nil {
		c.Logger().Errorf("approval email: %v", err)
	}
	return OK(c, http.StatusOK, map[string]any{"approval": a})
}

// ---- packages ----

// viewer resolves an optional bearer token for the public catalogue: no
// header is a signed-out visitor; a bad token is still 401.
func (h *Wallet) viewer(c echo.Context) (int64, error) {
	hdr := c.Request().Header.Get("Authorization")
	if hdr == "" {
		return 0, nil
	}
	secret, ok := strings.CutPrefix(hdr, "Bearer ")
	if !ok || strings.TrimSpace(secret) == "" {
		return 0, &model.Error{Code: model.CodeUnauthorized, Message: "Send a bearer token: Authorization: Bearer <token>."}
	}
	tok, acc, ssoAnywhere, err := h.Store.TokenSession(c.Request().Context(), strings.TrimSpace(secret))
	if err != nil {
		return 0, err
	}
	if !tok.HasScope(model.ScopeRead) && !tok.HasScope(model.ScopeAdmin) {
		return 0, model.Forbidden("This token lacks the read scope.")
	}
	// This route takes no bearer middleware (it answers signed out too), so
	// it records the caller itself for the rules that read it (SSO), as the
	// middleware does: when no org of the account enforces SSO (the token's
	// read says so), nothing is blocked and SSOBlocked needs no query.
	request.SetAccount(c, acc, "")
	request.SetToken(c, tok)
	if !ssoAnywhere {
		request.SetSSOBlocked(c, map[int64]bool{})
	}
	return acc.ID, nil
}

// Packages is GET /api/packages?q=&type=&page=&per_page=: what the caller
// can see (public ones even without a token), by name, a page at a time
// (100 by default, at most 200), as the catalogue page reads it.
func (h *Wallet) Packages(c echo.Context) error {
	viewer, err := h.viewer(c)
	if err != nil {
		return err
	}
	fields := model.Fields{}
	page, err := intQuery(c, "page")
	if err != nil {
		fields.Add("page", err.(*model.Error).Fields["page"])
	}
	perPage, err := intQuery(c, "per_page")
	if err != nil {
		fields.Add("per_page", err.(*model.Error).Fields["per_page"])
	}
	if err := fields.Err(); err != nil {
		return err
	}
	page, perPage = max(min(page, model.MaxPage), 1), min(max(perPage, 0), 200)
	if perPage == 0 {
		perPage = model.DefaultPerPage
	}
	f := db.PackageFilter{Query: c.QueryParam("q"), Type: strings.TrimSpace(c.QueryParam("type"))}
	if viewer != 0 {
		if f.HideOrgs, err = h.SSOBlocked(c); err != nil {
			return err
		}
	}
	ps, total, err := h.Store.CataloguePage(c.Request().Context(), viewer, f, page, perPage)
	if err != nil {
		return err
	}
	return List(c, ps, NewPagePagination(page, perPage, total))
}

// Package is GET /api/packages/{id} (id or slug); invisible is 404.
func (h *Wallet) Package(c echo.Context) error {
	viewer, err := h.viewer(c)
	if err != nil {
		return err
	}
	p, err := h.Store.Package(c.Request().Context(), viewer, c.Param("id"))
	if err != nil {
		return err
	}
	if ps, err := h.withoutSSOBlockedPackages(c, viewer, []model.Package{p}); err != nil {
		return err
	} else if len(ps) == 0 {
		return model.NotFound("package")
	}
	return OK(c, http.StatusOK, p)
}

// withoutSSOBlockedPackages drops the packages a token sees only through its
// membership of an org whose SSO enforcement shuts the token out: an
// org_only or private listing of that org, as if the token were an outsider.
func (h *Wallet) withoutSSOBlockedPackages(c echo.Context, viewer int64, ps []model.Package) ([]model.Package, error) {
	if viewer == 0 {
		return ps, nil
	}
	blocked, err := h.SSOBlocked(c)
	if err != nil || len(blocked) == 0 {
		return ps, err
	}
	out := ps[:0]
	for _, p := range ps {
		if p.Visibility == "public" || !blocked[p.OrgID] {
			out = append(out, p)
		}
	}
	return out, nil
}

type packageBody struct {
	Slug        *string `json:"slug"`
	Name        *string `json:"name"`
	Type        *string `json:"type"`
	Description *string `json:"description"`
	PriceCents  *int64  `json:"price_cents"`
	Visibility  *string `json:"visibility"`
	Manifest    *string `json:"manifest"`
}

func (b packageBody) input() model.PackageInput {
	return model.PackageInput{Slug: b.Slug, Name: b.Name, Type: b.Type, Description: b.Description,
		PriceCents: b.PriceCents, Visibility: b.Visibility, Manifest: b.Manifest}
}

// Publish is POST /api/orgs/{org}/packages.
func (h *Wallet) Publish(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	var in packageBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	p, err := h.Store.PublishPackage(c.Request().Context(), request.Actor(c), ws.ID, in.input())
	if err != nil {
		return err
	}
	return OK(c, http.StatusCreated, p)
}

// UpdatePackage is PATCH /api/orgs/{org}/packages/{id}.
func (h *Wallet) UpdatePackage(c echo.Context) error {
	ws, id, err := h.OrgAndID(c, "id", "package")
	if err != nil {
		return err
	}
	var in packageBody
	if err := Bind(c, &in); err != nil {
		return err
	}
	p, err := h.Store.UpdatePackage(c.Request().Context(), request.Actor(c), ws.ID, id, in.input())
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, p)
}

// Buy is POST /api/packages/{id}/buy with {org}: the org's wallet pays
// (default: the token's org, else the personal workspace). 201 with status
// completed or pending_approval.
func (h *Wallet) Buy(c echo.Context) error {
	if err := requireScope(c, model.ScopePurchase); err != nil {
		return err
	}
	var in struct {
		Org json.RawMessage `json:"org"`
	}
	if err := Bind(c, &in); err != nil {
		return err
	}
	ref, err := orgRef(in.Org)
	if err != nil {
		return err
	}
	tok, hasTok := request.Token(c)
	if ref == "" {
		if hasTok && tok.OrgID != nil {
			ref = strconv.FormatInt(*tok.OrgID, 10)
		} else {
			ref = strconv.FormatInt(Account(c).PersonalOrgID, 10)
		}
	}
	ws, err := h.OrgRef(c, ref)
	if err != nil {
		return err
	}
	bin := db.BuyInput{OrgID: ws.ID, PackageRef: c.Param("id"), Key: idempotencyKey(c)}
	if hasTok {
		bin.TokenPolicy = tok.PolicyID
	}
	res, rep, err := h.Store.Buy(c.Request().Context(), request.Actor(c), bin)
	if err != nil {
		return err
	}
	replayed(c, rep)
	return OK(c, http.StatusCreated, res)
}

// Entitlements is GET /api/orgs/{org}/entitlements.
func (h *Wallet) Entitlements(c echo.Context) error {
	ws, err := h.Org(c)
	if err != nil {
		return err
	}
	es, err := h.Store.Entitlements(c.Request().Context(), request.Actor(c), ws.ID)
	if err != nil {
		return err
	}
	if es == nil {
		es = []model.Entitlement{}
	}
	return List(c, es, NewPagePagination(1, len(es), len(es)))
}

// Download is GET /api/packages/{id}/download: the manifest, for an
// entitlement holder or the publisher.
func (h *Wallet) Download(c echo.Context) error {
	if err := requireScope(c, model.ScopeDownload); err != nil {
		return err
	}
	var bound *int64
	if t, ok := request.Token(c); ok {
		bound = t.OrgID
	}
	exclude, err := h.SSOExcluded(c)
	if err != nil {
		return err
	}
	p, err := h.Store.Download(c.Request().Context(), request.Actor(c), c.Param("id"), bound, exclude...)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, map[string]any{"package_id": p.ID, "slug": p.Slug, "vendor": p.Vendor, "manifest": p.Manifest})
}
