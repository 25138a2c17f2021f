package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"guildhall/db/model"
)

const ssoCols = `org_id, protocol, issuer, client_id, client_secret_enc, metadata_xml, metadata_url,
	enabled, enforced, idp_initiated, config_hash, tested_config_hash, tested_at, created_at, updated_at`

// SSOSettings is what the SSO page and GET /api/orgs/{org}/sso show.
type SSOSettings struct {
	Org        model.Org
	Role       model.Role
	Connection *model.SSOConnection
	Domains    []model.SSODomain
	SetupLinks []model.SSOSetupLink
	Bypasses   []model.AuditEvent
}

func ssoTarget(orgID int64, label string) model.Target {
	return model.Target{Kind: "sso_connection", ID: strconv.FormatInt(orgID, 10), Label: label}
}

// ssoRole loads the actor's role for an SSO read: a personal org, a
// non-member, or a role that may not see SSO all answer not found (SPEC 2:
// members and billing do not learn whether SSO exists).
func (s *Store) ssoRole(ctx context.Context, actor model.Actor, orgID int64) (model.Org, model.Role, error) {
	org, err := s.OrgByID(ctx, orgID)
	if err != nil {
		return org, "", err
	}
	role, err := s.RoleIn(ctx, orgID, actor.AccountID)
	if err != nil {
		return org, "", err
	}
	if org.Personal() || !model.CanIn(org.Kind, role, model.ActViewSSO) {
		return org, "", model.NotFound("SSO settings")
	}
	return org, role, nil
}

// requireSSOOwner is the write check inside a transaction: owners only;
// admins see the status and are refused (audited); others get not found.
func (tx *Tx) requireSSOOwner(orgID int64, action string) (model.Org, error) {
	org, err := tx.lockOrg(orgID)
	if err != nil {
		return org, err
	}
	role, err := tx.roleIn(orgID, tx.actor.AccountID)
	if err != nil {
		return org, err
	}
	if org.Personal() || !model.CanIn(org.Kind, role, model.ActViewSSO) {
		return org, model.NotFound("SSO settings")
	}
	if !model.CanIn(org.Kind, role, model.ActManageSSO) {
		return org, tx.Deny(orgID, action, ssoTarget(orgID, org.DisplayName), model.Forbidden("Only owners can change single sign-on."))
	}
	return org, nil
}

// SSOSettings loads an org's SSO status for owners and admins, checking the
// role itself (five reads). The page (SSOPage) and the API (SSOStatus) read
// from a workspace that already holds the role; their tests compare them
// with this.
func (s *Store) SSOSettings(ctx context.Context, actor model.Actor, orgID int64) (SSOSettings, error) {
	org, role, err := s.ssoRole(ctx, actor, orgID)
	if err != nil {
		return SSOSettings{}, err
	}
	out := SSOSettings{Org: org, Role: role}
	conn, err := s.SSOConnection(ctx, orgID)
	switch {
	case err == nil:
		out.Connection = &conn
	case !errors.Is(err, model.ErrNotFound):
		return out, err
	}
	if out.Domains, err = s.domains(ctx, orgID); err != nil {
		return out, err
	}
	if err := s.db.SelectContext(ctx, &out.SetupLinks, `SELECT `+setupLinkCols+` FROM sso_setup_links
		WHERE org_id = $1 ORDER BY id DESC LIMIT 20`, orgID); err != nil {
		return out, fmt.Errorf("list setup links: %w", err)
	}
	if err := s.db.SelectContext(ctx, &out.Bypasses, `SELECT `+auditCols+` FROM audit_events
		WHERE org_id = $1 AND action = 'sso.bypassed' ORDER BY id DESC LIMIT 20`, orgID); err != nil {
		return out, fmt.Errorf("list bypasses: %w", err)
	}
	return out, nil
}

// SSOStatus is the connection of ws's org (nil without one) for a viewer
// whose workspace already holds its role, with SSOSettings' rule: a
// personal org or a role that may not see SSO is not found. The API's status
// read needs the connection alone: one statement, not SSOSettings' five.
func (s *Store) SSOStatus(ctx context.Context, ws model.Workspace) (*model.SSOConnection, error) {
	if ws.Personal() || !model.CanIn(ws.Kind, ws.Role, model.ActViewSSO) {
		return nil, model.NotFound("SSO settings")
	}
	c, err := s.SSOConnection(ctx, ws.ID)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// SSOConnection loads an org's connection without a role check, for the
// sign-in flows (the IdP answers to the org, not to a viewer).
func (s *Store) SSOConnection(ctx context.Context, orgID int64) (model.SSOConnection, error) {
	var c model.SSOConnection
	err := s.db.GetContext(ctx, &c, `SELECT `+ssoCols+` FROM sso_connections WHERE org_id = $1`, orgID)
	return c, notFound(err, "SSO connection")
}

// SaveSSOInput is a normalized, validated configuration with the client
// secret already sealed (nil keeps the stored secret).
type SaveSSOInput struct {
	Config       model.SSOConfig
	SealedSecret []byte
}

// SaveSSOConnection creates or changes the org's connection (owners). A
// changed configuration needs a new test before enforcement; while SSO is
// enforced the connection cannot change (turn enforcement off first), so a
// typo cannot lock members out.
func (s *Store) SaveSSOConnection(ctx context.Context, actor model.Actor, orgID int64, in SaveSSOInput) (model.SSOConnection, error) {
	var out model.SSOConnection
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "sso.connected"); err != nil {
			return err
		}
		var err error
		out, err = tx.saveSSO(orgID, in, "")
		return err
	})
	return out, err
}

func (tx *Tx) saveSSO(orgID int64, in SaveSSOInput, via string) (model.SSOConnection, error) {
	cur, err := tx.ssoConnection(orgID, true)
	exists := err == nil
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return cur, err
	}
	cfg := in.Config.Normalize()
	hasSecret := exists && len(cur.ClientSecretEnc) > 0 && cur.Protocol == model.ProtocolOIDC
	if err := model.ValidateSSOConfig(cfg, hasSecret); err != nil {
		return cur, err
	}
	if exists && cur.Enforced {
		return cur, model.Conflict("SSO is enforced: turn enforcement off before changing the connection, then test the new settings.")
	}
	next := model.SSOConnection{OrgID: orgID, Protocol: cfg.Protocol, Issuer: cfg.Issuer, ClientID: cfg.ClientID,
		MetadataXML: cfg.MetadataXML, MetadataURL: cfg.MetadataURL, Enabled: true}
	if cfg.Protocol == model.ProtocolOIDC {
		next.ClientSecretEnc = in.SealedSecret
		if next.ClientSecretEnc == nil && hasSecret {
			next.ClientSecretEnc = cur.ClientSecretEnc
		}
	} else {
		next.Issuer, next.ClientID = "", ""
	}
	if exists {
		next.Enabled, next.IdPInitiated = cur.Enabled, cur.IdPInitiated
	}
	next.ConfigHash = model.SSOConfigHash(next)
	_, err = tx.ExecContext(tx.ctx, `
		INSERT INTO sso_connections (org_id, protocol, issuer, client_id, client_secret_enc, metadata_xml,
			metadata_url, enabled, idp_initiated, config_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		ON CONFLICT (org_id) DO UPDATE SET protocol = $2, issuer = $3, client_id = $4, client_secret_enc = $5,
			metadata_xml = $6, metadata_url = $7, config_hash = $10, updated_at = $11`,
		orgID, next.Protocol, next.Issuer, next.ClientID, next.ClientSecretEnc, next.MetadataXML,
		next.MetadataURL, next.Enabled, next.IdPInitiated, next.ConfigHash, tx.Now())
	if err != nil {
		return next, fmt.Errorf("save sso connection: %w", err)
	}
	action := "sso.connected"
	if exists {
		action = "sso.updated"
	}
	label := strings.ToUpper(next.Protocol) + " " + firstNonEmpty(next.Issuer, next.MetadataURL, "metadata XML")
	if via != "" {
		label += " (" + via + ")"
	}
	if err := tx.Record(orgID, action, ssoTarget(orgID, label)); err != nil {
		return next, err
	}
	return tx.ssoConnection(orgID, false)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (tx *Tx) ssoConnection(orgID int64, lock bool) (model.SSOConnection, error) {
	var c model.SSOConnection
	q := `SELECT ` + ssoCols + ` FROM sso_connections WHERE org_id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	err := tx.GetContext(tx.ctx, &c, q, orgID)
	return c, notFound(err, "SSO connection")
}

// SetSSOEnforced turns enforcement on (only after a successful test sign-in
// on the current settings; 409 otherwise) or off.
func (s *Store) SetSSOEnforced(ctx context.Context, actor model.Actor, orgID int64, on bool) (model.SSOConnection, error) {
	action := "sso.unenforced"
	if on {
		action = "sso.enforced"
	}
	var out model.SSOConnection
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.requireSSOOwner(orgID, action)
		if err != nil {
			return err
		}
		c, err := tx.ssoConnection(orgID, true)
		if errors.Is(err, model.ErrNotFound) {
			return tx.Deny(orgID, action, ssoTarget(orgID, org.DisplayName), model.Conflict("Connect an identity provider and test it before enforcing SSO."))
		}
		if err != nil {
			return err
		}
		if on {
			if err := model.CanEnforce(c); err != nil {
				return tx.Deny(orgID, action, ssoTarget(orgID, org.DisplayName), err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sso_connections SET enforced = $1, updated_at = $2 WHERE org_id = $3`, on, tx.Now(), orgID); err != nil {
			return fmt.Errorf("set enforcement: %w", err)
		}
		if err := tx.Record(orgID, action, ssoTarget(orgID, org.DisplayName)); err != nil {
			return err
		}
		out, err = tx.ssoConnection(orgID, false)
		return err
	})
	return out, err
}

// SetSSOEnabled enables or disables the connection; disabling also ends
// enforcement (a disabled IdP must not keep anyone out).
func (s *Store) SetSSOEnabled(ctx context.Context, actor model.Actor, orgID int64, on bool) (model.SSOConnection, error) {
	action := "sso.disabled"
	if on {
		action = "sso.enabled"
	}
	var out model.SSOConnection
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.requireSSOOwner(orgID, action)
		if err != nil {
			return err
		}
		cur, err := tx.ssoConnection(orgID, true)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sso_connections SET enabled = $1, enforced = enforced AND $1, updated_at = $2
			WHERE org_id = $3`, on, tx.Now(), orgID); err != nil {
			return fmt.Errorf("set enabled: %w", err)
		}
		if !on && cur.Enforced {
			if err := tx.Record(orgID, "sso.unenforced", ssoTarget(orgID, org.DisplayName+": connection disabled")); err != nil {
				return err
			}
		}
		if err := tx.Record(orgID, action, ssoTarget(orgID, org.DisplayName)); err != nil {
			return err
		}
		out, err = tx.ssoConnection(orgID, false)
		return err
	})
	return out, err
}

// SetSSOIdPInitiated allows or refuses IdP-initiated SAML sign-ins.
func (s *Store) SetSSOIdPInitiated(ctx context.Context, actor model.Actor, orgID int64, on bool) (model.SSOConnection, error) {
	var out model.SSOConnection
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.requireSSOOwner(orgID, "sso.updated")
		if err != nil {
			return err
		}
		if _, err := tx.ssoConnection(orgID, true); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sso_connections SET idp_initiated = $1, updated_at = $2 WHERE org_id = $3`, on, tx.Now(), orgID); err != nil {
			return fmt.Errorf("set idp-initiated: %w", err)
		}
		label := org.DisplayName + ": IdP-initiated sign-in off"
		if on {
			label = org.DisplayName + ": IdP-initiated sign-in on"
		}
		if err := tx.Record(orgID, "sso.updated", ssoTarget(orgID, label)); err != nil {
			return err
		}
		out, err = tx.ssoConnection(orgID, false)
		return err
	})
	return out, err
}

// ---- flows ----

const flowCols = `state_hash, org_id, purpose, nonce, pkce_verifier, saml_request_id, account_id,
	setup_link_id, config_hash, next_path, identity, idp_initiated, expires_at, used_at, created_at`

// StartSSOFlow stores a flow under the hash of its state, so any instance can
// finish it. It returns the flow as stored.
func (s *Store) StartSSOFlow(ctx context.Context, state string, f model.SSOFlow) error {
	if f.ExpiresAt.IsZero() {
		f.ExpiresAt = s.Now().Add(model.FlowTTL)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sso_flows (state_hash, org_id, purpose, nonce, pkce_verifier,
		saml_request_id, account_id, setup_link_id, config_hash, next_path, identity, idp_initiated, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		HashSecret(state), f.OrgID, f.Purpose, f.Nonce, f.PKCEVerifier, f.SAMLRequestID, f.AccountID,
		f.SetupLinkID, f.ConfigHash, f.NextPath, f.Identity, f.IdPInitiated, f.ExpiresAt, s.Now())
	if err != nil {
		return fmt.Errorf("start sso flow: %w", err)
	}
	// Old flows are dead weight; clearing a few at each start keeps the table small.
	_, _ = s.db.ExecContext(ctx, `DELETE FROM sso_flows WHERE state_hash IN
		(SELECT state_hash FROM sso_flows WHERE expires_at < $1 LIMIT 100)`, s.Now().Add(-time.Hour))
	return nil
}

// ErrFlowUnknown answers a state that names no live flow: forged, replayed,
// expired or from another browser.
var ErrFlowUnknown = model.Forbidden("This sign-in response does not match a sign-in started here (the state is unknown, used or expired). Start again.")

// TakeSSOFlow consumes a flow by its state: once only, before it expires.
func (s *Store) TakeSSOFlow(ctx context.Context, state string) (model.SSOFlow, error) {
	var f model.SSOFlow
	if state == "" || !model.ValidText(state) {
		return f, ErrFlowUnknown
	}
	err := s.db.GetContext(ctx, &f, `UPDATE sso_flows SET used_at = $2
		WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING `+flowCols, HashSecret(state), s.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrFlowUnknown
	}
	if err != nil {
		return f, fmt.Errorf("take sso flow: %w", err)
	}
	return f, nil
}

// SAMLRequestIDs lists the request ids of the org's live SAML flows, which
// are the InResponseTo values a response may carry.
func (s *Store) SAMLRequestIDs(ctx context.Context, orgID int64) ([]string, error) {
	var ids []string
	// Used flows count too, so a replayed response reaches the replay check
	// and is named as such; finishing a used flow is refused anyway.
	err := s.db.SelectContext(ctx, &ids, `SELECT saml_request_id FROM sso_flows
		WHERE org_id = $1 AND saml_request_id <> '' AND expires_at > $2`, orgID, s.Now())
	if err != nil {
		return nil, fmt.Errorf("saml request ids: %w", err)
	}
	return ids, nil
}

// SetSAMLIdentity records the identity a verified SAML response carried on
// the flow of its request (matched by InResponseTo and RelayState), once.
func (s *Store) SetSAMLIdentity(ctx context.Context, orgID int64, requestID, relayState string, identity []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sso_flows SET identity = $1
		WHERE org_id = $2 AND saml_request_id = $3 AND saml_request_id <> '' AND state_hash = $4
		AND used_at IS NULL AND identity IS NULL AND expires_at > $5`, identity, orgID, requestID, HashSecret(relayState), s.Now())
	if err != nil {
		return fmt.Errorf("record saml identity: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return model.Forbidden("This SAML response does not match the sign-in this browser started (RelayState). Start again.")
	}
	return nil
}

// RememberAssertion records a SAML assertion id until it expires; a second
// use of the same id (on any instance) is refused.
func (s *Store) RememberAssertion(ctx context.Context, orgID int64, id string, expires time.Time) error {
	_, _ = s.db.ExecContext(ctx, `DELETE FROM saml_assertions_seen WHERE assertion_id IN
		(SELECT assertion_id FROM saml_assertions_seen WHERE expires_at < $1 LIMIT 100)`, s.Now())
	_, err := s.db.ExecContext(ctx, `INSERT INTO saml_assertions_seen (assertion_id, org_id, expires_at) VALUES ($1, $2, $3)`,
		id, orgID, expires)
	if isUniqueViolation(err, "") {
		return model.Forbidden("This SAML response was already used: a replayed response is refused.")
	}
	if err != nil {
		return fmt.Errorf("remember assertion: %w", err)
	}
	return nil
}

// RecordSSORefusal audits a refused SSO response (bad signature, replay,
// wrong audience...) in the org, without any change.
func (s *Store) RecordSSORefusal(ctx context.Context, ip string, orgID int64, reason string) error {
	label := reason
	if len(label) > 200 {
		label = label[:200]
	}
	return s.RecordDenied(ctx, model.Actor{IP: ip}, orgID, "sso.sign_in", ssoTarget(orgID, label))
}

// CompleteSSOTest records a successful test sign-in on the settings the flow
// started with; it marks the connection tested only if they are still the
// current ones. attributed is the owner (or the owner who made the setup link).
func (s *Store) CompleteSSOTest(ctx context.Context, actor model.Actor, f model.SSOFlow, id model.SSOIdentity) (model.SSOConnection, error) {
	var out model.SSOConnection
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		c, err := tx.ssoConnection(f.OrgID, true)
		if err != nil {
			return err
		}
		if c.ConfigHash != f.ConfigHash {
			return model.Conflict("The connection changed while the test ran. Run the test again.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sso_connections SET tested_config_hash = $1, tested_at = $2 WHERE org_id = $3`,
			c.ConfigHash, tx.Now(), f.OrgID); err != nil {
			return fmt.Errorf("mark tested: %w", err)
		}
		label := "test sign-in as " + model.NormalizeEmail(id.Email)
		if f.Purpose == model.FlowSetup {
			label += " (setup link)"
		}
		if err := tx.Record(f.OrgID, "sso.tested", ssoTarget(f.OrgID, label)); err != nil {
			return err
		}
		out, err = tx.ssoConnection(f.OrgID, false)
		return err
	})
	return out, err
}

// SSOSignIn signs a verified identity into org: links a known account or
// provisions a new one (with its personal org, as at sign-up, and the email
// verified by the IdP), and makes it a member of org if it is not one.
func (s *Store) SSOSignIn(ctx context.Context, actor model.Actor, orgID int64, id model.SSOIdentity) (model.Account, error) {
	var acc model.Account
	email := model.NormalizeEmail(id.Email)
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		c, err := tx.ssoConnection(orgID, false)
		if err != nil || !c.Enabled {
			return tx.Deny(orgID, "sso.sign_in", ssoTarget(orgID, email), model.Forbidden("Single sign-on is not enabled for %s.", org.DisplayName))
		}
		var atDomain bool
		if err := tx.GetContext(ctx, &atDomain, `SELECT EXISTS (SELECT 1 FROM sso_domains
			WHERE org_id = $1 AND domain = $2 AND verified_at IS NOT NULL)`, orgID, model.EmailDomain(email)); err != nil {
			return fmt.Errorf("check domain: %w", err)
		}
		existing, err := tx.accountByEmail(email)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return err
		}
		decision, err := model.DecideJIT(id, atDomain, err == nil)
		if err != nil {
			return tx.Deny(orgID, "sso.sign_in", ssoTarget(orgID, email), err)
		}
		switch decision {
		case model.JITCreate:
			acc, err = tx.signup(SignupInput{Email: email, Name: model.IdentityDisplayName(id), VerifiedEmail: true}, "")
			if err != nil {
				return err
			}
			if err := tx.Record(orgID, "sso.provisioned", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: email}); err != nil {
				return err
			}
		case model.JITLink:
			acc = existing
			if !acc.Verified() {
				if _, err := tx.ExecContext(ctx, `UPDATE accounts SET email_verified_at = $1 WHERE id = $2`, tx.Now(), acc.ID); err != nil {
					return fmt.Errorf("verify email: %w", err)
				}
			}
			tx.actor.AccountID, tx.actor.Email = acc.ID, acc.Email
		}
		if _, err := tx.roleIn(orgID, acc.ID); errors.Is(err, model.ErrNotFound) {
			if err := tx.checkSeats(org, 1); err != nil {
				return tx.Deny(orgID, "sso.sign_in", ssoTarget(orgID, email), err)
			}
			if err := tx.insertMembership(orgID, acc.ID, model.RoleMember); err != nil {
				return err
			}
			if err := tx.Record(orgID, "sso.member_joined", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: email}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := tx.Record(orgID, "sso.signed_in", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: email}); err != nil {
			return err
		}
		acc, err = tx.accountByID(acc.ID)
		return err
	})
	return acc, err
}

func (tx *Tx) accountByEmail(email string) (model.Account, error) {
	var a model.Account
	err := tx.GetContext(tx.ctx, &a, `SELECT `+accountCols+` FROM accounts a WHERE a.email = $1 FOR UPDATE`, email)
	return a, notFound(err, "account")
}

// MarkSessionSSO records that a session was signed in by org's IdP.
func (s *Store) MarkSessionSSO(ctx context.Context, sessionID string, orgID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET auth_method = 'sso', sso_org_id = $1 WHERE id_hash = $2`, orgID, HashSecret(sessionID))
	if err != nil {
		return fmt.Errorf("mark session: %w", err)
	}
	return nil
}

// ---- enforcement ----

// ssoGateRows gathers, for each enforced org the account belongs to, the
// facts of model.SSOGate (one query).
func (s *Store) ssoGateFacts(ctx context.Context, accountID int64, email string) ([]model.SSOFacts, error) {
	var rows []struct {
		OrgID    int64      `db:"org_id"`
		Role     model.Role `db:"role"`
		AtDomain bool       `db:"at_domain"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT m.org_id, m.role,
			EXISTS (SELECT 1 FROM sso_domains d WHERE d.org_id = m.org_id AND d.domain = $2 AND d.verified_at IS NOT NULL) AS at_domain
		FROM memberships m JOIN sso_connections c ON c.org_id = m.org_id AND c.enforced AND c.enabled
		WHERE m.account_id = $1`, accountID, model.EmailDomain(email))
	if err != nil {
		return nil, fmt.Errorf("sso gate: %w", err)
	}
	out := make([]model.SSOFacts, 0, len(rows))
	for _, r := range rows {
		out = append(out, model.SSOFacts{Enforced: true, AtDomain: r.AtDomain, Role: r.Role, OrgID: r.OrgID})
	}
	return out, nil
}

// SSOBlockedOrgs lists the orgs a browser session (or, with sessionID "", an
// API token) may not use: orgs enforcing SSO where the account is a
// non-owner at a verified domain and the session did not come from that
// org's IdP.
func (s *Store) SSOBlockedOrgs(ctx context.Context, acc model.Account, sessionID string) (map[int64]bool, error) {
	facts, err := s.ssoGateFacts(ctx, acc.ID, acc.Email)
	if err != nil || len(facts) == 0 {
		return nil, err
	}
	method, ssoOrg := model.AuthPassword, int64(0)
	if sessionID != "" {
		var row struct {
			Method string `db:"auth_method"`
			OrgID  *int64 `db:"sso_org_id"`
		}
		err := s.db.GetContext(ctx, &row, `SELECT auth_method, sso_org_id FROM sessions WHERE id_hash = $1`, HashSecret(sessionID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("session method: %w", err)
		}
		method = row.Method
		if row.OrgID != nil {
			ssoOrg = *row.OrgID
		}
	}
	blocked := map[int64]bool{}
	for _, f := range facts {
		f.SessionMethod, f.SessionOrgID = method, ssoOrg
		if model.SSOGate(f) == model.GateRefuse {
			blocked[f.OrgID] = true
		}
	}
	return blocked, nil
}

// SessionWorkspaces is Workspaces and SSOBlockedOrgs for a browser session
// in one statement: every workspace of acc, with the orgs the session may not
// use (left in; the caller filters with WithoutOrgs). f is the session's
// SessionFacts.
func (s *Store) SessionWorkspaces(ctx context.Context, acc model.Account, f SessionFacts) ([]model.Workspace, map[int64]bool, error) {
	var rows []sessionWorkspace
	err := s.db.SelectContext(ctx, &rows, `SELECT `+orgCols+`, m.role,
			COALESCE(c.enforced AND c.enabled, false) AS sso_enforced,
			(COALESCE(c.enforced AND c.enabled, false) AND EXISTS (SELECT 1 FROM sso_domains d
				WHERE d.org_id = o.id AND d.domain = $2 AND d.verified_at IS NOT NULL)) AS sso_at_domain
		FROM orgs o
		JOIN memberships m ON m.org_id = o.id AND m.account_id = $1
		LEFT JOIN sso_connections c ON c.org_id = o.id
		ORDER BY o.kind = 'personal' DESC, lower(o.display_name), o.id`, acc.ID, model.EmailDomain(acc.Email))
	if err != nil {
		return nil, nil, fmt.Errorf("list workspaces: %w", err)
	}
	ws, blocked := gateWorkspaces(rows, f)
	return ws, blocked, nil
}

// sessionWorkspace is one workspace of a session with its SSO facts.
type sessionWorkspace struct {
	model.Workspace
	Enforced bool `db:"sso_enforced"`
	AtDomain bool `db:"sso_at_domain"`
}

// gateWorkspaces splits a session's workspaces from the orgs whose enforced
// SSO it did not sign in through (model.SSOGate).
func gateWorkspaces(rows []sessionWorkspace, f SessionFacts) ([]model.Workspace, map[int64]bool) {
	method, ssoOrg := f.Method, int64(0)
	if method == "" {
		method = model.AuthPassword
	}
	if f.SSOOrgID != nil {
		ssoOrg = *f.SSOOrgID
	}
	ws := make([]model.Workspace, 0, len(rows))
	blocked := map[int64]bool{}
	for _, r := range rows {
		ws = append(ws, r.Workspace)
		gate := model.SSOFacts{Enforced: r.Enforced, AtDomain: r.AtDomain, Role: r.Role, OrgID: r.ID,
			SessionMethod: method, SessionOrgID: ssoOrg}
		if model.SSOGate(gate) == model.GateRefuse {
			blocked[r.ID] = true
		}
	}
	return ws, blocked
}

// BrowserSession is what every signed-in page starts from: the account with
// its SessionFacts, and its workspaces with the orgs whose enforced SSO the
// session did not sign in through.
type BrowserSession struct {
	Account    model.Account
	Facts      SessionFacts
	Workspaces []model.Workspace
	Blocked    map[int64]bool
}

// browserSessionQuery is sessionQuery with the account's workspaces and
// their SSO gate facts (the statement of SessionWorkspaces), one row per
// workspace, and what keeping it needs (db/sessionkeep.go): the account's
// version (session_versions), the session_epoch, and the first expiry among the
// pending invitations and transfers to the account's email, when the
// banner flags may turn off with no row changing. The session is read once
// (OFFSET 0 keeps its flags from being evaluated per row).
const browserSessionQuery = `SELECT x.id, x.email, x.name, x.password_hash, x.email_verified_at, x.personal_org_id,
	x.created_at, x.last_active_at, x.two_factor, x.last_seen_at_s, x.auth_method, x.sso_org_id,
	x.has_invitations, x.has_transfers, x.has_auto_join, f.version, f.epoch, f.until,
	w.id, w.kind, w.slug, w.display_name, w.description, w.member_base_permission, w.plan,
	w.limit_team_members, w.limit_api_keys, w.limit_agents, w.limit_monthly_requests,
	w.created_at, w.updated_at, w.require_two_factor, w.role, w.sso_enforced, w.sso_at_domain
FROM (` + sessionQuery + ` OFFSET 0) x
CROSS JOIN LATERAL (SELECT (SELECT v FROM session_epoch) AS epoch,
	COALESCE((SELECT v FROM session_versions WHERE account_id = x.id), 0) AS version,
	LEAST((SELECT min(i.expires_at) FROM invitations i WHERE i.email = x.email AND i.status = 'pending' AND i.expires_at > $2),
		(SELECT min(tr.expires_at) FROM agent_transfers tr WHERE tr.to_email = x.email AND tr.status = 'pending' AND tr.expires_at > $2)) AS until
	OFFSET 0) f
JOIN LATERAL (SELECT ` + orgCols + `, m.role,
		COALESCE(c.enforced AND c.enabled, false) AS sso_enforced,
		(COALESCE(c.enforced AND c.enabled, false) AND EXISTS (SELECT 1 FROM sso_domains d
			WHERE d.org_id = o.id AND d.domain = lower(substring(x.email from '@([^@]*)$')) AND d.verified_at IS NOT NULL)) AS sso_at_domain
	FROM memberships m JOIN orgs o ON o.id = m.org_id
	LEFT JOIN sso_connections c ON c.org_id = o.id
	WHERE m.account_id = x.id) w ON true
ORDER BY w.kind = 'personal' DESC, lower(w.display_name), w.id`

// sessionCheckQuery is what a page reads when the server keeps the
// session's account: the session row itself (sign-out deletes it, so it is
// read every time) and the versions its kept copy must match.
const sessionCheckQuery = `SELECT s.account_id, s.last_seen_at, s.auth_method, s.sso_org_id,
	COALESCE((SELECT v FROM session_versions WHERE account_id = s.account_id), 0), (SELECT v FROM session_epoch)
FROM sessions s WHERE s.id_hash = $1`

// BrowserSession loads a browser session, and marks it seen as Session
// does. It reads the session and its versions; the account, its flags and
// workspaces come from the copy this server keeps while those versions hold
// (db/sessionkeep.go), and from browserSessionQuery otherwise.
func (s *Store) BrowserSession(ctx context.Context, sessionID string) (BrowserSession, error) {
	if sessionID == "" {
		return BrowserSession{}, model.ErrUnauthorized
	}
	now := s.Now()
	var chk sessionCheck
	hash := HashSecret(sessionID)
	rows, err := s.db.QueryContext(ctx, sessionCheckQuery, hash)
	if err != nil {
		return BrowserSession{}, fmt.Errorf("load session: %w", err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&chk.accountID, &chk.lastSeen, &chk.method, &chk.ssoOrgID, &chk.version, &chk.epoch)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return BrowserSession{}, fmt.Errorf("load session: %w", err)
	}
	if !found {
		s.checks.drop(hash)
		return BrowserSession{}, model.ErrUnauthorized
	}
	k := s.sessions.get(chk.accountID, chk.version, chk.epoch, now)
	if k == nil {
		if k, err = s.loadBrowserSession(ctx, sessionID, now); err != nil || k == nil {
			if err != nil {
				return BrowserSession{}, err
			}
			// An account in no workspace at all (never kept).
			acc, facts, err := s.Session(ctx, sessionID)
			return BrowserSession{Account: acc, Facts: facts, Workspaces: []model.Workspace{}, Blocked: map[int64]bool{}}, err
		}
		s.sessions.put(k)
	}
	if err := s.touchSession(ctx, sessionID, chk.accountID, chk.lastSeen, now); err != nil {
		return BrowserSession{}, err
	}
	if k.version == chk.version && k.epoch == chk.epoch {
		s.rememberCheck(hash, chk, now)
	}
	b := BrowserSession{Account: k.account, Facts: SessionFacts{Method: chk.method, SSOOrgID: chk.ssoOrgID,
		Invitations: k.invitations, Transfers: k.transfers, AutoJoin: k.autoJoin}}
	b.Workspaces, b.Blocked = gateWorkspaces(k.rows, b.Facts)
	return b, nil
}

// sessionCheck is one row of sessionCheckQuery.
type sessionCheck struct {
	accountID      int64
	lastSeen       time.Time
	method         string
	ssoOrgID       *int64
	version, epoch int64
}

// loadBrowserSession runs browserSessionQuery: nil when it finds no row (no
// such session, or an account in no workspace).
func (s *Store) loadBrowserSession(ctx context.Context, sessionID string, now time.Time) (*keptSession, error) {
	rows, err := s.db.QueryContext(ctx, browserSessionQuery, HashSecret(sessionID), now)
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	// Scanned by hand: reflection was a tenth of a small page's server time.
	// TestBrowserSessionMatchesItsParts compares every field with the
	// sqlx-scanned Session and SessionWorkspaces.
	var k keptSession
	var lastSeen time.Time
	var until *time.Time
	for rows.Next() {
		var w sessionWorkspace
		var f SessionFacts
		a := &k.account
		if err := rows.Scan(&a.ID, &a.Email, &a.Name, &a.PasswordHash, &a.EmailVerifiedAt, &a.PersonalOrgID,
			&a.CreatedAt, &a.LastActiveAt, &a.TwoFactor, &lastSeen, &f.Method, &f.SSOOrgID,
			&k.invitations, &k.transfers, &k.autoJoin, &k.version, &k.epoch, &until,
			&w.ID, &w.Kind, &w.Slug, &w.DisplayName, &w.Description, &w.MemberBasePermission, &w.Plan,
			&w.LimitTeamMembers, &w.LimitAPIKeys, &w.LimitAgents, &w.LimitMonthlyRequests,
			&w.CreatedAt, &w.UpdatedAt, &w.RequireTwoFactor, &w.Role, &w.Enforced, &w.AtDomain); err != nil {
			return nil, fmt.Errorf("load session: %w", err)
		}
		k.rows = append(k.rows, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if len(k.rows) == 0 {
		return nil, nil
	}
	if until != nil {
		k.until = *until
	}
	return &k, nil
}

// PasswordGate decides a password sign-in of acc. refused names an org whose
// enforced SSO the account must use (the sign-in is refused, audited
// sso.password_refused); otherwise each org where an owner used the
// break-glass path is audited as sso.bypassed.
func (s *Store) PasswordGate(ctx context.Context, actor model.Actor, acc model.Account) (refused *model.Org, err error) {
	facts, err := s.ssoGateFacts(ctx, acc.ID, acc.Email)
	if err != nil {
		return nil, err
	}
	var bypass []int64
	for _, f := range facts {
		f.SessionMethod = model.AuthPassword
		switch model.SSOGate(f) {
		case model.GateRefuse:
			org, err := s.OrgByID(ctx, f.OrgID)
			if err != nil {
				return nil, err
			}
			_ = s.RecordDenied(ctx, actor, f.OrgID, "sso.password_refused", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
			if refused == nil {
				refused = &org
			}
		case model.GateBypass:
			bypass = append(bypass, f.OrgID)
		}
	}
	if refused != nil {
		return refused, nil
	}
	if len(bypass) > 0 {
		err = s.InTx(ctx, actor, func(tx *Tx) error {
			for _, o := range bypass {
				if err := tx.Record(o, "sso.bypassed", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email + " signed in with a password (owner break-glass)"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return nil, err
}

// ---- routing sign-in to an IdP ----

// SSOOrgForEmail finds the org whose verified domain holds email and whose
// connection is enabled ("" slug when none).
func (s *Store) SSOOrgForEmail(ctx context.Context, email string) (model.Org, error) {
	var o model.Org
	err := s.db.GetContext(ctx, &o, `SELECT `+orgCols+` FROM orgs o
		JOIN sso_domains d ON d.org_id = o.id AND d.verified_at IS NOT NULL AND d.domain = $1
		JOIN sso_connections c ON c.org_id = o.id AND c.enabled`, model.EmailDomain(model.NormalizeEmail(email)))
	return o, notFound(err, "SSO organization")
}

// SSOOrgBySlug finds an org with an enabled connection by slug.
func (s *Store) SSOOrgBySlug(ctx context.Context, slug string) (model.Org, error) {
	var o model.Org
	slug = strings.ToLower(strings.TrimSpace(slug))
	if !model.ValidText(slug) {
		return o, model.NotFound("SSO organization")
	}
	err := s.db.GetContext(ctx, &o, `SELECT `+orgCols+` FROM orgs o
		JOIN sso_connections c ON c.org_id = o.id AND c.enabled WHERE o.slug = $1`, slug)
	return o, notFound(err, "SSO organization")
}

// WithoutOrgs drops from ws the orgs in blocked.
func WithoutOrgs(ws []model.Workspace, blocked map[int64]bool) []model.Workspace {
	if len(blocked) == 0 {
		return ws
	}
	out := make([]model.Workspace, 0, len(ws))
	for _, w := range ws {
		if !blocked[w.ID] {
			out = append(out, w)
		}
	}
	return out
}
