package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// Policies is /policies (spend policies) and /approvals (the queue).
type Policies struct {
	*Base
}

func centsField(p *int64) string {
	if p == nil {
		return ""
	}
	return dollars(*p)
}

func limitLine(label string, p *int64) string {
	if p == nil {
		return label + ": no limit"
	}
	return label + ": " + model.FormatCents(*p)
}

func policyForm(p model.SpendPolicy) views.PolicyForm {
	f := views.PolicyForm{Name: p.Name, Max: centsField(p.MaxPerPurchaseCents), Daily: centsField(p.DailyLimitCents),
		Monthly: centsField(p.MonthlyLimitCents), Approval: centsField(p.RequireApprovalAboveCents),
		Vendors: strings.Join(p.VendorAllowlist, ", "), Blocked: map[string]bool{}, Active: p.Active, IsDefault: p.IsDefault}
	for _, t := range p.BlockedTypes {
		f.Blocked[t] = true
	}
	return f
}

func orNone(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}

func (h *Policies) render(c echo.Context, status int, form *views.PolicyForm, openID int64, openForm *views.PolicyForm) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	actor := request.Actor(c)
	ps, err := h.Store.Policies(ctx, actor, ws.ID)
	if err != nil {
		return err
	}
	v := views.PoliciesView{CanManage: model.Can(ws.Role, model.ActManagePolicies), Types: model.PackageTypes, OpenID: openID}
	for _, p := range ps {
		spent, err := h.Store.PolicySpent(ctx, actor, ws.ID, p.ID)
		if err != nil {
			return err
		}
		row := views.PolicyRow{ID: p.ID, Name: p.Name, Active: p.Active, IsDefault: p.IsDefault,
			Limits: []string{limitLine("Max per purchase", p.MaxPerPurchaseCents), limitLine("Daily", p.DailyLimitCents),
				limitLine("Monthly", p.MonthlyLimitCents), limitLine("Approval above", p.RequireApprovalAboveCents)},
			Vendors: orNone(p.VendorAllowlist, "any"), Blocked: orNone(p.BlockedTypes, "none"),
			Today: model.FormatCents(spent.Today), Month: model.FormatCents(spent.Month), Form: policyForm(p)}
		if p.ID == openID && openForm != nil {
			row.Form = *openForm
		}
		v.Rows = append(v.Rows, row)
	}
	if form != nil {
		v.Form = *form
	} else {
		v.Form = views.PolicyForm{Active: true, Blocked: map[string]bool{}}
	}
	return Render(c, status, views.PoliciesPage(h.Shell(c, "Spend policies", "policies"), v))
}

// Page is GET /policies (every member sees the policies; owners and admins edit).
func (h *Policies) Page(c echo.Context) error { return h.render(c, http.StatusOK, nil, 0, nil) }

// readPolicyForm parses the form into the store's input.
func readPolicyForm(c echo.Context) (views.PolicyForm, db.PolicyInput, error) {
	f := views.PolicyForm{Name: c.FormValue("name"), Max: c.FormValue("max_per_purchase"), Daily: c.FormValue("daily_limit"),
		Monthly: c.FormValue("monthly_limit"), Approval: c.FormValue("require_approval_above"), Vendors: c.FormValue("vendor_allowlist"),
		Blocked: map[string]bool{}, Active: c.FormValue("active") == "true", IsDefault: c.FormValue("is_default") == "true"}
	form, _ := c.FormParams()
	blocked := form["blocked_types"]
	for _, t := range blocked {
		f.Blocked[t] = true
	}
	in := db.PolicyInput{Name: &f.Name, Active: &f.Active, IsDefault: &f.IsDefault, BlockedTypes: &blocked,
		SetMaxPerPurchase: true, SetDaily: true, SetMonthly: true, SetApproval: true}
	vendors := strings.FieldsFunc(f.Vendors, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	in.VendorAllowlist = &vendors
	errs := model.Fields{}
	for field, dst := range map[string]**int64{
		"max_per_purchase_cents": &in.MaxPerPurchaseCents, "daily_limit_cents": &in.DailyLimitCents,
		"monthly_limit_cents": &in.MonthlyLimitCents, "require_approval_above_cents": &in.RequireApprovalAboveCents,
	} {
		raw := map[string]string{"max_per_purchase_cents": f.Max, "daily_limit_cents": f.Daily, "monthly_limit_cents": f.Monthly, "require_approval_above_cents": f.Approval}[field]
		v, set, err := model.ParseDollars(field, raw)
		if err != nil {
			e, _ := model.AsError(err)
			errs.Add(field, e.Fields[field])
			continue
		}
		if set {
			*dst = &v
		}
	}
	if len(errs) > 0 && strings.TrimSpace(f.Name) == "" {
		errs.Add("name", "Name is required.") // shown with the amount errors, not after them
	}
	return f, in, errs.Err()
}

// Create is POST /policies.
func (h *Policies) Create(c echo.Context) error {
	f, in, err := readPolicyForm(c)
	if err == nil {
		var p model.SpendPolicy
		p, err = h.Store.CreatePolicy(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, in)
		if err == nil {
			return Redirect(c, "/policies", "success", "Created the policy "+p.Name+".")
		}
	}
	fields, msg, ok := FieldErrors(err)
	if !ok {
		return err
	}
	f.Errors, f.Message = fields, msg
	return h.render(c, http.StatusUnprocessableEntity, &f, 0, nil)
}

func policyID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound("policy")
	}
	return id, nil
}

// Update is POST /policies/{id}.
func (h *Policies) Update(c echo.Context) error {
	id, err := policyID(c)
	if err != nil {
		return err
	}
	f, in, err := readPolicyForm(c)
	if err == nil {
		var p model.SpendPolicy
		p, err = h.Store.UpdatePolicy(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id, in)
		if err == nil {
			return Redirect(c, "/policies", "success", "Saved the policy "+p.Name+".")
		}
	}
	fields, msg, ok := FieldErrors(err)
	if !ok {
		return err
	}
	f.Errors, f.Message = fields, msg
	return h.render(c, http.StatusUnprocessableEntity, nil, id, &f)
}

// MakeDefault is POST /policies/{id}/default.
func (h *Policies) MakeDefault(c echo.Context) error {
	id, err := policyID(c)
	if err != nil {
		return err
	}
	yes := true
	p, err := h.Store.UpdatePolicy(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id, db.PolicyInput{IsDefault: &yes})
	if err != nil {
		return err
	}
	return Redirect(c, "/policies", "success", p.Name+" is now the default policy.")
}

// Delete is POST /policies/{id}/delete.
func (h *Policies) Delete(c echo.Context) error {
	id, err := policyID(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeletePolicy(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id); err != nil {
		return err
	}
	return Redirect(c, "/policies", "success", "Deleted the policy.")
}

// ---- approvals ----

func (h *Policies) approvalRow(a model.Approval, canDecide bool) views.ApprovalRow {
	now := h.Store.Now()
	return views.ApprovalRow{ID: a.ID, Package: a.PackageName, PkgHref: "/packages/" + strconv.FormatInt(a.PackageID, 10),
		Buyer: a.BuyerEmail, Amount: model.FormatCents(a.AmountCents), Status: a.Status, Reason: a.Reason,
		Requested: views.Ago(a.CreatedAt, now), Expires: a.ExpiresAt.UTC().Format("Jan 2, 15:04") + " UTC", CanDecide: canDecide}
}

// Approvals is GET /approvals.
func (h *Policies) Approvals(c echo.Context) error {
	ws := request.Workspace(c)
	status := strings.TrimSpace(c.QueryParam("status"))
	as, err := h.Store.Approvals(c.Request().Context(), request.Actor(c), ws.ID, status)
	if err != nil {
		return err
	}
	v := views.ApprovalsView{CanDecide: model.Can(ws.Role, model.ActManagePolicies), Status: status,
		Statuses: []components.Option{{Value: "", Label: "All"}, {Value: "pending", Label: "Pending"}, {Value: "approved", Label: "Approved"},
			{Value: "rejected", Label: "Rejected"}, {Value: "expired", Label: "Expired"}}}
	for _, a := range as {
		v.Rows = append(v.Rows, h.approvalRow(a, v.CanDecide))
	}
	return Render(c, http.StatusOK, views.ApprovalsPage(h.Shell(c, "Approvals", "approvals"), v))
}

func approvalID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.NotFound("approval")
	}
	return id, nil
}

// decided answers a decision: the row for htmx, a redirect for a plain form.
// A refusal the admin can act on (no funds, a limit now reached) is shown in
// the row, which stays pending.
func (h *Policies) decided(c echo.Context, a model.Approval, err error, okText string) error {
	ws := request.Workspace(c)
	if err != nil {
		code := model.CodeOf(err)
		if code == "" || code == model.CodeNotFound || code == model.CodeForbidden && !model.Can(ws.Role, model.ActManagePolicies) {
			return err
		}
		if !IsHTMX(c) {
			e, _ := model.AsError(err)
			return Redirect(c, "/approvals", "error", e.Message)
		}
		cur, gerr := h.Store.Approval(c.Request().Context(), request.Actor(c), ws.ID, a.ID)
		if gerr != nil {
			return err
		}
		row := h.approvalRow(cur, true)
		e, _ := model.AsError(err)
		row.Error = e.Message
		return Render(c, http.StatusOK, views.ApprovalRowView(request.CSRF(c), row))
	}
	if merr := h.SendApprovalDecision(c.Request().Context(), a, ws.DisplayName); merr != nil {
		c.Logger().Errorf("approval email: %v", merr)
	}
	if !IsHTMX(c) {
		return Redirect(c, "/approvals", "success", okText)
	}
	return Render(c, http.StatusOK, views.ApprovalRowView(request.CSRF(c), h.approvalRow(a, true)))
}

// Approve is POST /approvals/{id}/approve.
func (h *Policies) Approve(c echo.Context) error {
	id, err := approvalID(c)
	if err != nil {
		return err
	}
	a, _, err := h.Store.Approve(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id)
	a.ID = id
	return h.decided(c, a, err, "Approved and paid.")
}

// Reject is POST /approvals/{id}/reject (a reason is required).
func (h *Policies) Reject(c echo.Context) error {
	id, err := approvalID(c)
	if err != nil {
		return err
	}
	a, err := h.Store.Reject(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, id, c.FormValue("reason"))
	a.ID = id
	return h.decided(c, a, err, "Rejected; the buyer was told why.")
}
