package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/request"
)

// Workspaces handles the overview, creating orgs, the switcher and settings.
type Workspaces struct {
	*Base
}

// Overview is the active workspace's front page.
func (h *Workspaces) Overview(c echo.Context) error {
	ctx := c.Request().Context()
	acc, _ := request.Account(c)
	ws := request.Workspace(c)
	ov, err := h.Store.Overview(ctx, ws.ID)
	if err != nil {
		return err
	}
	evs, err := h.Store.RecentActivity(ctx, ws.ID, 20)
	if err != nil {
		return err
	}
	v := views.OverviewView{
		Name: ws.DisplayName, Slug: ws.Slug, Description: ws.Description, Personal: ws.Personal(),
		RoleLabel: ws.Role.Label(), Balance: model.FormatCents(ov.BalanceCents), Members: ov.Members, Teams: ov.Teams,
		Agents: ov.Agents, Verified: acc.Verified(), CanAudit: model.Can(ws.Role, model.ActReadAudit) && !ws.Personal(),
	}
	for _, w := range request.Workspaces(c) {
		if !w.Personal() {
			v.Orgs++
		}
	}
	now := h.Store.Now()
	// Everyone sees sentences; people without the audit log (members,
	// billing) only the member-safe ones.
	fullFeed := model.Can(ws.Role, model.ActReadAudit)
	for _, e := range evs {
		actor := e.ActorName
		if actor == "" {
			actor = e.ActorEmail
		}
		text, safe := model.ActivitySentence(e.Action, actor, e.TargetLabel)
		if !safe && !fullFeed {
			continue
		}
		v.Activity = append(v.Activity, views.ActivityItem{Actor: orDash(actor), Text: text, When: views.Ago(e.CreatedAt, now)})
		if len(v.Activity) == 8 {
			break
		}
	}
	return Render(c, http.StatusOK, views.OverviewPage(h.Shell(c, "Overview", "overview"), v))
}

func orDash(s string) string {
	if s == "" {
		return "system"
	}
	return s
}

// NewOrgPage shows the new-organization form.
func (h *Workspaces) NewOrgPage(c echo.Context) error {
	f, err := h.newOrgForm(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.NewOrgPage(h.Shell(c, "New organization", ""), f))
}

func (h *Workspaces) newOrgForm(c echo.Context) (views.OrgForm, error) {
	acc, _ := request.Account(c)
	ov, err := h.Store.Overview(c.Request().Context(), acc.PersonalOrgID)
	if err != nil {
		return views.OrgForm{}, err
	}
	return views.OrgForm{PersonalCents: model.FormatCents(ov.BalanceCents)}, nil
}

// CreateOrg creates a team org and makes it the active workspace.
func (h *Workspaces) CreateOrg(c echo.Context) error {
	in := db.CreateOrgInput{
		DisplayName: c.FormValue("display_name"), Slug: c.FormValue("slug"), Description: c.FormValue("description"),
		TransferPersonalCredits: c.FormValue("transfer_personal_credits") == "true",
	}
	ws, err := h.Store.CreateOrg(c.Request().Context(), request.Actor(c), in)
	if fields, msg, ok := FieldErrors(err); ok {
		f, ferr := h.newOrgForm(c)
		if ferr != nil {
			return ferr
		}
		f.DisplayName, f.Slug, f.Description, f.Transfer = in.DisplayName, in.Slug, in.Description, in.TransferPersonalCredits
		f.Errors, f.Message = fields, msg
		return Render(c, http.StatusUnprocessableEntity, views.NewOrgPage(h.Shell(c, "New organization", ""), f))
	}
	if err != nil {
		return err
	}
	if err := request.Session(c).SetActive(c, ws.ID); err != nil {
		return err
	}
	return Redirect(c, "/", "success", "Created "+ws.DisplayName+" ("+ws.Slug+"). You are its owner.")
}

// Switch makes another workspace active; the page re-renders in its scope.
func (h *Workspaces) Switch(c echo.Context) error {
	acc, _ := request.Account(c)
	ref := c.FormValue("org_id")
	if ref == "" {
		ref = c.FormValue("org")
	}
	if ref == "" || ref == "personal" {
		ref = strconv.FormatInt(acc.PersonalOrgID, 10)
	}
	ws, err := h.Store.Workspace(c.Request().Context(), acc.ID, ref)
	if err != nil {
		return err
	}
	if err := request.Session(c).SetActive(c, ws.ID); err != nil {
		return err
	}
	back := "/"
	if ref := c.Request().Referer(); ref != "" {
		if i := strings.Index(ref, "://"); i >= 0 {
			if j := strings.Index(ref[i+3:], "/"); j >= 0 {
				back = ref[i+3+j:]
			}
		}
	}
	// Detail pages (/teams/12) belong to the old workspace: go to their list.
	if parts := strings.Split(strings.Trim(back, "/"), "/"); len(parts) > 1 {
		back = "/" + parts[0]
	}
	return Redirect(c, SafeNext(back), "", "")
}

// SettingsPage shows the org's settings.
func (h *Workspaces) SettingsPage(c echo.Context) error {
	ws := request.Workspace(c)
	v, err := h.settingsView(c, ws)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.SettingsPage(h.Shell(c, "Settings", "settings"), v))
}

func (h *Workspaces) settingsView(c echo.Context, ws model.Workspace) (views.SettingsView, error) {
	acc, _ := request.Account(c)
	// Listed up front, so nobody types the slug to learn it cannot work.
	withBlockers := model.Can(ws.Role, model.ActDeleteOrg) && !ws.Personal()
	f, err := h.Store.SettingsFacts(c.Request().Context(), acc.ID, ws.Org, orgTwoFactorCounts(ws), withBlockers)
	if err != nil {
		return views.SettingsView{}, err
	}
	plan := h.PlanCard(ws, f.Use)
	tf := orgTwoFactorView(c, ws, f.Unenrolled) // handlers/twofactor.go
	var blocked []string
	listed := map[string]int64{}
	for i, b := range f.Blockers {
		blocked = append(blocked, blockerLabel(b))
		listed[b.Kind]++
		if more := b.OfKind - listed[b.Kind]; more > 0 && (i == len(f.Blockers)-1 || f.Blockers[i+1].Kind != b.Kind) {
			blocked = append(blocked, moreBlockers(b.Kind, more))
		}
	}
	return views.SettingsView{
		DeleteBlocked: blocked,
		Personal:      ws.Personal(), Slug: ws.Slug,
		CanEdit:   model.Can(ws.Role, model.ActUpdateOrg),
		CanDelete: model.Can(ws.Role, model.ActDeleteOrg),
		Form: views.OrgForm{DisplayName: ws.DisplayName, Slug: ws.Slug, Description: ws.Description,
			BasePermission: string(ws.MemberBasePermission)},
		TwoFactor: tf,
		PlanCard:  plan,
	}, nil
}

// UpdateSettings saves name, slug, description and base permission.
func (h *Workspaces) UpdateSettings(c echo.Context) error {
	ws := request.Workspace(c)
	in := db.UpdateOrgInput{Description: formPtr(c, "description")}
	if !ws.Personal() {
		in.DisplayName, in.Slug, in.MemberBasePermission = formPtr(c, "display_name"), formPtr(c, "slug"), formPtr(c, "member_base_permission")
	}
	_, err := h.Store.UpdateOrg(c.Request().Context(), request.Actor(c), ws.ID, in)
	if fields, msg, ok := FieldErrors(err); ok {
		v, verr := h.settingsView(c, ws)
		if verr != nil {
			return verr
		}
		v.Form = views.OrgForm{DisplayName: c.FormValue("display_name"), Slug: c.FormValue("slug"), Description: c.FormValue("description"),
			BasePermission: c.FormValue("member_base_permission"), Errors: fields, Message: msg}
		return Render(c, http.StatusUnprocessableEntity, views.SettingsPage(h.Shell(c, "Settings", "settings"), v))
	}
	if err != nil {
		return err
	}
	return Redirect(c, "/settings", "success", "Settings saved.")
}

func formPtr(c echo.Context, name string) *string {
	if _, ok := c.Request().PostForm[name]; !ok {
		return nil
	}
	v := c.FormValue(name)
	return &v
}

// DeleteOrg deletes the active org after the slug is typed, or explains what
// still blocks it.
func (h *Workspaces) DeleteOrg(c echo.Context) error {
	ws := request.Workspace(c)
	err := h.Store.DeleteOrg(c.Request().Context(), request.Actor(c), ws.ID, c.FormValue("confirm"))
	if e, ok := model.AsError(err); ok && (e.Code == model.CodeValidation || e.Code == model.CodeConflict) {
		v, verr := h.settingsView(c, ws)
		if verr != nil {
			return verr
		}
		v.DeleteError = e.Message
		if d, ok := e.Details.(map[string]any); ok {
			if bs, ok := d["blockers"].([]db.Blocker); ok {
				v.DeleteError = "This organization still owns:"
				v.DeleteBlocked = nil
				for _, b := range bs {
					v.DeleteBlocked = append(v.DeleteBlocked, blockerLabel(b))
				}
			}
		}
		status := http.StatusConflict
		if e.Code == model.CodeValidation {
			status = http.StatusUnprocessableEntity
		}
		return Render(c, status, views.SettingsPage(h.Shell(c, "Settings", "settings"), v))
	}
	if err != nil {
		return err
	}
	acc, _ := request.Account(c)
	if err := request.Session(c).SetActive(c, acc.PersonalOrgID); err != nil {
		return err
	}
	return Redirect(c, "/", "success", "Deleted "+ws.DisplayName+". Its audit log is kept.")
}

// moreBlockers says how many of a kind were not listed.
func moreBlockers(kind string, n int64) string {
	if kind == "agent" {
		return "…and " + views.Count(n) + " more agents (Agents lists them all)"
	}
	return "…and " + views.Count(n) + " more " + kind + "s"
}

func blockerLabel(b db.Blocker) string {
	switch b.Kind {
	case "agent":
		return "Agent “" + b.Label + "” — move, transfer or delete it"
	case "balance":
		return "A balance of " + model.FormatCents(b.AmountCents) + " — spend it, or transfer it to another workspace you own (Wallet, Transfer credits)"
	case "package":
		return "Package “" + b.Label + "” — published packages stay with the org for their buyers"
	}
	return b.Kind + " " + b.Label
}

// Outbox shows the dev outbox (GUILDHALL_DEV=1 only; the route exists only then).
func (h *Workspaces) Outbox(c echo.Context) error {
	ms, err := h.Store.Outbox(c.Request().Context(), 50)
	if err != nil {
		return err
	}
	items := make([]views.OutboxItem, 0, len(ms))
	for _, m := range ms {
		items = append(items, views.OutboxItem{To: m.To, Subject: m.Subject, Text: m.Text, When: m.CreatedAt.UTC().Format(time.RFC1123),
			Status: m.Status, Error: m.LastError})
	}
	return Render(c, http.StatusOK, views.OutboxPage(h.Shell(c, "Outbox", ""), items))
}
