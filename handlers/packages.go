package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/views/components"
	"guildhall/web/request"
)

// Packages is the marketplace: /packages (public ones even signed out),
// /packages/{id} with buy or install, publish and edit, /entitlements.
type Packages struct {
	*Base
}

func packageCard(p model.Package) views.PackageCard {
	price := model.FormatCents(p.PriceCents)
	if p.Free() {
		price = "Free"
	}
	return views.PackageCard{ID: p.ID, Slug: p.Slug, Name: p.Name, Type: p.Type, Vendor: p.Vendor, Price: price, Free: p.Free(),
		Visibility: p.Visibility, Description: p.Description, Href: "/packages/" + strconv.FormatInt(p.ID, 10)}
}

func typeOptions(all string) []components.Option {
	opts := []components.Option{}
	if all != "" {
		opts = append(opts, components.Option{Value: "", Label: all})
	}
	for _, t := range model.PackageTypes {
		opts = append(opts, components.Option{Value: t, Label: strings.ReplaceAll(t, "_", " ")})
	}
	return opts
}

func viewerID(c echo.Context) int64 {
	if acc, ok := request.Account(c); ok {
		return acc.ID
	}
	return 0
}

// Catalogue is GET /packages.
func (h *Packages) Catalogue(c echo.Context) error {
	_, signedIn := request.Account(c)
	v := views.PackagesView{SignedIn: signedIn, Query: c.QueryParam("q"), Type: strings.TrimSpace(c.QueryParam("type")), Types: typeOptions("All types")}
	if signedIn {
		v.CanPublish = model.Can(request.Workspace(c).Role, model.ActPublishPackages)
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(min(page, model.MaxPage), 1)
	f := db.PackageFilter{Query: v.Query, Type: v.Type}
	// An org whose enforced SSO this session did not come through shows
	// only its public packages, as to anyone outside it.
	f.HideOrgs, _ = request.SSOBlocked(c)
	ps, total, err := h.Store.CataloguePage(c.Request().Context(), viewerID(c), f, page, db.CataloguePageSize)
	if err == nil && len(ps) == 0 && page > 1 {
		// Past the last page: keep the pager, so there is a way back.
		_, total, err = h.Store.CataloguePage(c.Request().Context(), viewerID(c), f, 1, db.CataloguePageSize)
	}
	if err != nil {
		return err
	}
	for _, p := range ps {
		v.Cards = append(v.Cards, packageCard(p))
	}
	v.Pager = components.Pager{Page: page, TotalPages: model.TotalPages(total, db.CataloguePageSize), Total: total, Target: "#catalogue",
		Href: func(p int) string {
			q := url.Values{}
			if v.Query != "" {
				q.Set("q", v.Query)
			}
			if v.Type != "" {
				q.Set("type", v.Type)
			}
			q.Set("page", strconv.Itoa(p))
			return "/packages?" + q.Encode()
		}}
	return Render(c, http.StatusOK, views.PackagesPage(h.Shell(c, "Packages", "packages"), v))
}

// detail is a package's page for p; d is its status in the active
// workspace when already read (nil: read it here).
func (h *Packages) detail(c echo.Context, p model.Package, d *db.PackageDetail) (views.PackageView, error) {
	v := views.PackageView{Card: packageCard(p)}
	_, v.SignedIn = request.Account(c)
	if !v.SignedIn {
		return v, nil
	}
	ws := request.Workspace(c)
	v.Workspace = ws.DisplayName
	if ws.Personal() {
		v.Workspace = "your personal workspace"
	}
	v.CanBuy = model.Can(ws.Role, model.ActUseResources)
	if !v.CanBuy {
		v.BuyRefusal = "Billing members fund the wallet but do not buy packages. Ask a member or admin."
	}
	v.CanEdit = p.OrgID == ws.ID && model.Can(ws.Role, model.ActPublishPackages)
	if d == nil {
		got, err := h.Store.PackageDetailIn(c.Request().Context(), viewerID(c), strconv.FormatInt(p.ID, 10), ws.ID)
		if err != nil {
			return v, err
		}
		d = &got
	}
	v.Owned = d.Owned
	if d.Approval != nil && !d.Owned {
		switch d.Approval.Status {
		case "pending":
			if d.Approval.ExpiresAt.After(h.Store.Now()) {
				v.Status = "pending_approval"
			} else {
				v.Status = "expired"
			}
		case "rejected":
			v.Status, v.Reason = "rejected", d.Approval.Reason
		case "expired":
			v.Status = "expired"
		}
	}
	v.CanDownload = d.CanDownload
	v.Key = formKey()
	return v, nil
}

// Detail is GET /packages/{id}; a package the viewer cannot see is 404.
// A signed-in viewer's page is one statement: the package with its status
// in the active workspace.
func (h *Packages) Detail(c echo.Context) error {
	ctx := c.Request().Context()
	var p model.Package
	var d *db.PackageDetail
	if _, signedIn := request.Account(c); signedIn {
		got, err := h.Store.PackageDetailIn(ctx, viewerID(c), c.Param("id"), request.Workspace(c).ID)
		if err != nil {
			return err
		}
		p, d = got.Package, &got
	} else {
		var err error
		if p, err = h.Store.Package(ctx, 0, c.Param("id")); err != nil {
			return err
		}
	}
	v, err := h.detail(c, p, d)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.PackagePage(h.Shell(c, p.Name, "packages"), v))
}

// Buy is POST /packages/{id}/buy: the active workspace's wallet pays, under
// its default policy. The form's key makes a double submit charge once.
func (h *Packages) Buy(c echo.Context) error {
	ctx := c.Request().Context()
	ws := request.Workspace(c)
	p, err := h.Store.Package(ctx, viewerID(c), c.Param("id"))
	if err != nil {
		return err
	}
	res, _, err := h.Store.Buy(ctx, request.Actor(c), db.BuyInput{OrgID: ws.ID, PackageRef: strconv.FormatInt(p.ID, 10), Key: c.FormValue("idempotency_key")})
	to := "/packages/" + strconv.FormatInt(p.ID, 10)
	if err == nil {
		switch {
		case res.Status == db.StatusPendingApproval:
			return Redirect(c, to, "info", "Your request is waiting for approval by an owner or admin. You will get an email when it is decided.")
		case p.Free():
			return Redirect(c, to, "success", "Installed "+p.Name+".")
		default:
			text := "Bought " + p.Name + " for " + model.FormatCents(res.Purchase.AmountCents) + ". The wallet holds " + model.FormatCents(res.Purchase.BalanceCents) + "."
			if res.Purchase.AutoTopUp {
				text += " Auto top-up refilled it."
			}
			return Redirect(c, to, "success", text)
		}
	}
	code := model.CodeOf(err)
	if code == "" || code == model.CodeNotFound {
		return err
	}
	v, derr := h.detail(c, p, nil)
	if derr != nil {
		return derr
	}
	e, _ := model.AsError(err)
	v.Error = e.Message
	if code != model.CodeForbidden && code != model.CodeConflict && code != model.CodeInsufficientFunds && code != model.CodeValidation &&
		code != model.CodeIdempotencyConflict {
		v.Error += " (" + string(code) + ")"
	}
	return Render(c, StatusOf(code), views.PackagePage(h.Shell(c, p.Name, "packages"), v))
}

// Manifest is GET /packages/{id}/manifest: for an entitlement holder or the publisher.
func (h *Packages) Manifest(c echo.Context) error {
	ws := request.Workspace(c)
	p, err := h.Store.Download(c.Request().Context(), request.Actor(c), c.Param("id"), &ws.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+p.Slug+`.manifest.txt"`)
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(p.Manifest))
}

func visibilityOptions() []components.Option {
	return []components.Option{{Value: "public", Label: "Public: anyone"}, {Value: "org_only", Label: "Org only: members of this workspace"},
		{Value: "private", Label: "Private: you and the owners and admins"}}
}

func (h *Packages) formPage(c echo.Context, status int, f views.PackageForm) error {
	f.Types, f.Visibilities = typeOptions(""), visibilityOptions()
	title := "Publish a package"
	if f.ID != 0 {
		title = "Edit " + f.Name
	}
	return Render(c, status, views.PackageFormPage(h.Shell(c, title, "packages"), f))
}

// NewPage is GET /packages/new (owners and admins).
func (h *Packages) NewPage(c echo.Context) error {
	if !model.Can(request.Workspace(c).Role, model.ActPublishPackages) {
		return model.Forbidden("Only owners and admins can publish packages.")
	}
	return h.formPage(c, http.StatusOK, views.PackageForm{Type: "skill", Visibility: "org_only", Price: "0"})
}

func readPackageForm(c echo.Context, f *views.PackageForm) (model.PackageInput, error) {
	f.Slug, f.Name, f.Type, f.Visibility = c.FormValue("slug"), c.FormValue("name"), c.FormValue("type"), c.FormValue("visibility")
	f.Description, f.Manifest, f.Price = c.FormValue("description"), c.FormValue("manifest"), c.FormValue("price")
	in := model.PackageInput{Name: &f.Name, Type: &f.Type, Visibility: &f.Visibility, Description: &f.Description, Manifest: &f.Manifest}
	if f.ID == 0 {
		in.Slug = &f.Slug
	}
	price, set, err := model.ParseDollars("price_cents", f.Price)
	if err != nil {
		return in, err
	}
	if set {
		in.PriceCents = &price
	} else if f.ID == 0 {
		zero := int64(0)
		in.PriceCents = &zero
	}
	return in, nil
}

// Publish is POST /packages.
func (h *Packages) Publish(c echo.Context) error {
	var f views.PackageForm
	in, err := readPackageForm(c, &f)
	if err == nil {
		var p model.Package
		p, err = h.Store.PublishPackage(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, in)
		if err == nil {
			return Redirect(c, "/packages/"+strconv.FormatInt(p.ID, 10), "success", "Published "+p.Name+".")
		}
	}
	fields, msg, ok := FieldErrors(err)
	if !ok {
		return err
	}
	f.Errors, f.Message = fields, msg
	return h.formPage(c, http.StatusUnprocessableEntity, f)
}

// editable loads a package of the active workspace for its admins.
func (h *Packages) editable(c echo.Context) (model.Package, error) {
	ws := request.Workspace(c)
	p, err := h.Store.Package(c.Request().Context(), viewerID(c), c.Param("id"))
	if err != nil {
		return p, err
	}
	if p.OrgID != ws.ID {
		return p, model.NotFound("package")
	}
	if !model.Can(ws.Role, model.ActPublishPackages) {
		return p, model.Forbidden("Only owners and admins can edit packages.")
	}
	return p, nil
}

// EditPage is GET /packages/{id}/edit.
func (h *Packages) EditPage(c echo.Context) error {
	p, err := h.editable(c)
	if err != nil {
		return err
	}
	return h.formPage(c, http.StatusOK, views.PackageForm{ID: p.ID, Slug: p.Slug, Name: p.Name, Type: p.Type, Description: p.Description,
		Price: dollars(p.PriceCents), Visibility: p.Visibility, Saved: p.Visibility, Manifest: p.Manifest})
}

// Edit is POST /packages/{id}/edit.
func (h *Packages) Edit(c echo.Context) error {
	p, err := h.editable(c)
	if err != nil {
		return err
	}
	f := views.PackageForm{ID: p.ID, Slug: p.Slug, Saved: p.Visibility}
	in, err := readPackageForm(c, &f)
	if err == nil {
		p, err = h.Store.UpdatePackage(c.Request().Context(), request.Actor(c), request.Workspace(c).ID, p.ID, in)
		if err == nil {
			return Redirect(c, "/packages/"+strconv.FormatInt(p.ID, 10), "success", "Saved "+p.Name+".")
		}
	}
	fields, msg, ok := FieldErrors(err)
	if !ok {
		return err
	}
	f.Errors, f.Message = fields, msg
	return h.formPage(c, http.StatusUnprocessableEntity, f)
}

// Entitlements is GET /entitlements: what the active workspace owns.
func (h *Packages) Entitlements(c echo.Context) error {
	es, err := h.Store.Entitlements(c.Request().Context(), request.Actor(c), request.Workspace(c).ID)
	if err != nil {
		return err
	}
	rows := make([]views.EntitlementRow, 0, len(es))
	for _, e := range es {
		rows = append(rows, views.EntitlementRow{Name: e.PackageName, Href: "/packages/" + strconv.FormatInt(e.PackageID, 10),
			Type: e.PackageType, Vendor: e.Vendor, Since: e.CreatedAt.UTC().Format("Jan 2, 2006")})
	}
	return Render(c, http.StatusOK, views.EntitlementsPage(h.Shell(c, "Owned packages", "packages"), rows))
}
