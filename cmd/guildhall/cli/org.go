package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// orgView is the part of an org answer (GET/POST /api/orgs) the CLI reads.
type orgView struct {
	ID          int64  `json:"id"`
	Kind        string `json:"kind"`
	Slug        string `json:"slug"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Plan        string `json:"plan"`
}

func orgPath(ref string) string { return "/api/orgs/" + url.PathEscape(ref) }

// session loads the stored config for a verb that needs a token.
func (r *runner) session() (string, Config, error) {
	path, err := ConfigPath(r.env.Getenv)
	if err != nil {
		return "", Config{}, err
	}
	cfg, err := loadConfig(path)
	return path, cfg, err
}

// orgCreate is "org create SLUG NAME": POST /api/orgs.
func (r *runner) orgCreate(args []string) error {
	pos, err := r.parse(flags("org create"), `guildhall org create SLUG "NAME"`, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef(`org create needs a SLUG and a "NAME"`)
	}
	slug, name := pos[0], strings.Join(pos[1:], " ")
	_, cfg, err := r.session()
	if err != nil {
		return err
	}
	var org orgView
	if err := r.client(cfg).do(r.ctx, http.MethodPost, "/api/orgs",
		map[string]any{"slug": slug, "display_name": name}, &org); err != nil {
		return err
	}
	r.out("Created organization %s (%s).\n", org.DisplayName, org.Slug)
	r.out("  id:    %d\n  slug:  %s\n  name:  %s\n  role:  %s\n  plan:  %s\n", org.ID, org.Slug, org.DisplayName, org.Role, org.Plan)
	r.out("Run \"guildhall org switch %s\" to make it your active organization.\n", org.Slug)
	return nil
}

// orgSwitch is "org switch SLUG|none": checks the org through GET
// /api/orgs/{org} and stores it as the active org; none (or the caller's
// personal org) goes back to the personal workspace.
func (r *runner) orgSwitch(args []string) error {
	pos, err := r.parse(flags("org switch"), "guildhall org switch SLUG|none", args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usagef("org switch needs one SLUG, or none for your personal workspace")
	}
	path, cfg, err := r.session()
	if err != nil {
		return err
	}
	if strings.EqualFold(pos[0], "none") {
		cfg.Org, cfg.OrgID = "", 0
		if err := saveConfig(path, cfg); err != nil {
			return err
		}
		r.out("Switched to your personal workspace.\n")
		return nil
	}
	var org orgView
	if err := r.client(cfg).do(r.ctx, http.MethodGet, orgPath(pos[0]), nil, &org); err != nil {
		return err
	}
	if org.Kind == "personal" { // personal orgs are never shared: this is the caller's own
		cfg.Org, cfg.OrgID = "", 0
		if err := saveConfig(path, cfg); err != nil {
			return err
		}
		r.out("Switched to your personal workspace.\n")
		return nil
	}
	cfg.Org, cfg.OrgID = org.Slug, org.ID
	if err := saveConfig(path, cfg); err != nil {
		return err
	}
	r.out("Switched to %s (%s). Your role: %s.\n", org.DisplayName, org.Slug, org.Role)
	return nil
}

// orgWhoami is "org whoami": the signed-in account (GET /api/me) and the
// active org with the caller's role (GET /api/orgs/{org}). An active org the
// caller lost access to falls back to the personal workspace, as the web
// switcher does.
func (r *runner) orgWhoami(args []string) error {
	pos, err := r.parse(flags("org whoami"), "guildhall org whoami", args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("org whoami takes no arguments")
	}
	path, cfg, err := r.session()
	if err != nil {
		return err
	}
	c := r.client(cfg)
	var me meView
	if err := c.do(r.ctx, http.MethodGet, "/api/me", nil, &me); err != nil {
		return err
	}
	email := me.User.Email
	if email == "" {
		email = cfg.Email
	}
	r.out("Signed in as %s at %s\n", email, cfg.URL)
	if cfg.Org == "" && cfg.OrgID == 0 {
		r.out("Active workspace: Personal workspace\n")
		return nil
	}
	var org orgView
	err = c.do(r.ctx, http.MethodGet, orgPath(cfg.orgRef()), nil, &org)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == "not_found" {
		gone := cfg.Org
		cfg.Org, cfg.OrgID = "", 0
		if err := saveConfig(path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(r.env.Stderr, "You no longer have access to %s: switched back to your personal workspace.\n", gone)
		r.out("Active workspace: Personal workspace\n")
		return nil
	}
	if err != nil {
		return err
	}
	if org.Slug != cfg.Org { // re-slugged since the switch: keep the config readable
		cfg.Org = org.Slug
		_ = saveConfig(path, cfg)
	}
	r.out("Active organization: %s (%s), your role: %s\n", org.DisplayName, org.Slug, org.Role)
	return nil
}

// orgInvite is "org invite EMAIL [--role R]": POST
// /api/orgs/{active}/invitations.
func (r *runner) orgInvite(args []string) error {
	fs := flags("org invite")
	role := fs.String("role", "member", "role to invite at: owner, admin, member or billing")
	pos, err := r.parse(fs, "guildhall org invite EMAIL [--role ROLE]", args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usagef("org invite needs one EMAIL")
	}
	_, cfg, err := r.session()
	if err != nil {
		return err
	}
	if cfg.Org == "" && cfg.OrgID == 0 {
		return errors.New(`no active organization: your personal workspace cannot be shared; run "guildhall org switch SLUG" first`)
	}
	var inv struct {
		ID        int64  `json:"id"`
		Email     string `json:"email"`
		Role      string `json:"role"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := r.client(cfg).do(r.ctx, http.MethodPost, orgPath(cfg.orgRef())+"/invitations",
		map[string]any{"email": strings.TrimSpace(pos[0]), "role": *role}, &inv); err != nil {
		return err
	}
	r.out("Invited %s to %s as %s.\n", inv.Email, cfg.Org, inv.Role)
	expires := inv.ExpiresAt
	if t, err := time.Parse(time.RFC3339, inv.ExpiresAt); err == nil {
		expires = t.UTC().Format("2006-01-02 15:04 UTC")
	}
	r.out("The invitation expires on %s.\n", expires)
	return nil
}
