package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"guildhall/db/model"
)

const domainCols = `id, org_id, domain, txt_token, verified_at, auto_join, created_at`

func domainTarget(d model.SSODomain) model.Target {
	return model.Target{Kind: "domain", ID: strconv.FormatInt(d.ID, 10), Label: d.Domain}
}

func (s *Store) domains(ctx context.Context, orgID int64) ([]model.SSODomain, error) {
	var ds []model.SSODomain
	err := s.db.SelectContext(ctx, &ds, `SELECT `+domainCols+` FROM sso_domains WHERE org_id = $1 ORDER BY domain`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return ds, nil
}

// Domains lists an org's domains (owners and admins).
func (s *Store) Domains(ctx context.Context, actor model.Actor, orgID int64) ([]model.SSODomain, error) {
	if _, _, err := s.ssoRole(ctx, actor, orgID); err != nil {
		return nil, err
	}
	return s.domains(ctx, orgID)
}

func (tx *Tx) domain(orgID, id int64) (model.SSODomain, error) {
	var d model.SSODomain
	err := tx.GetContext(tx.ctx, &d, `SELECT `+domainCols+` FROM sso_domains WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id)
	return d, notFound(err, "domain")
}

// AddDomain claims a domain for org (owners); it is unverified until its TXT
// record is found.
func (s *Store) AddDomain(ctx context.Context, actor model.Actor, orgID int64, domain string) (model.SSODomain, error) {
	name, verr := model.NormalizeDomain(domain)
	var d model.SSODomain
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "domain.added"); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		var taken bool
		if err := tx.GetContext(ctx, &taken, `SELECT EXISTS (SELECT 1 FROM sso_domains WHERE domain = $1 AND verified_at IS NOT NULL AND org_id <> $2)`, name, orgID); err != nil {
			return fmt.Errorf("check domain: %w", err)
		}
		if taken {
			return tx.Deny(orgID, "domain.added", model.Target{Kind: "domain", Label: name}, model.Conflict("%s is already verified by another organization.", name))
		}
		token, _ := NewSecret("")
		token = strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(token))[:32]
		err := tx.GetContext(ctx, &d, `INSERT INTO sso_domains (org_id, domain, txt_token, created_at)
			VALUES ($1, $2, $3, $4) RETURNING `+domainCols, orgID, name, token, tx.Now())
		if isUniqueViolation(err, "sso_domains_org_domain_key") {
			return model.Conflict("%s is already on this organization's list.", name)
		}
		if err != nil {
			return fmt.Errorf("add domain: %w", err)
		}
		return tx.Record(orgID, "domain.added", domainTarget(d))
	})
	return d, err
}

// DomainCheck is what the DNS answered for a verification.
type DomainCheck struct {
	Domain  model.SSODomain
	Records []string
}

// VerifyDomain looks the TXT records of the domain up with lookup and marks
// it verified when one matches. A record not found is a 409 naming what DNS
// answered; a domain another org verified first is a 409 too (audited).
func (s *Store) VerifyDomain(ctx context.Context, actor model.Actor, orgID, id int64, lookup func(ctx context.Context, domain string) ([]string, error)) (DomainCheck, error) {
	var d model.SSODomain
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "domain.verified"); err != nil {
			return err
		}
		var err error
		d, err = tx.domain(orgID, id)
		return err
	})
	if err != nil {
		return DomainCheck{}, err
	}
	out := DomainCheck{Domain: d}
	if d.VerifiedAt != nil {
		return out, nil
	}
	// The DNS query runs outside the transaction: a slow resolver must not
	// hold a row lock.
	records, lerr := lookup(ctx, d.Domain)
	out.Records = records
	err = s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "domain.verified"); err != nil {
			return err
		}
		cur, err := tx.domain(orgID, id)
		if err != nil {
			return err
		}
		if lerr != nil {
			return tx.Deny(orgID, "domain.verified", domainTarget(cur), model.Conflict("The DNS lookup of %s failed: %v. Add the TXT record and try again.", cur.Domain, lerr))
		}
		if !model.TXTMatches(records, cur.TXTToken) {
			answered := "no TXT records"
			if len(records) > 0 {
				answered = "TXT records " + strings.Join(quoteAll(records), ", ")
			}
			return tx.Deny(orgID, "domain.verified", domainTarget(cur), model.Conflict("DNS answered %s for %s, not %s.", answered, cur.Domain, cur.TXTRecord()))
		}
		_, err = tx.ExecContext(ctx, `UPDATE sso_domains SET verified_at = $1 WHERE id = $2`, tx.Now(), cur.ID)
		if isUniqueViolation(err, "sso_domains_verified_key") {
			return tx.Deny(orgID, "domain.verified", domainTarget(cur), model.Conflict("%s is already verified by another organization.", cur.Domain))
		}
		if err != nil {
			return fmt.Errorf("verify domain: %w", err)
		}
		if err := tx.Record(orgID, "domain.verified", domainTarget(cur)); err != nil {
			return err
		}
		out.Domain, err = tx.domain(orgID, id)
		return err
	})
	return out, err
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// SetDomainAutoJoin turns the auto-join offer of a verified domain on or off.
func (s *Store) SetDomainAutoJoin(ctx context.Context, actor model.Actor, orgID, id int64, on bool) (model.SSODomain, error) {
	var d model.SSODomain
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "domain.updated"); err != nil {
			return err
		}
		var err error
		if d, err = tx.domain(orgID, id); err != nil {
			return err
		}
		if on && d.VerifiedAt == nil {
			return model.Conflict("Verify %s before offering auto-join.", d.Domain)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sso_domains SET auto_join = $1 WHERE id = $2`, on, d.ID); err != nil {
			return fmt.Errorf("set auto-join: %w", err)
		}
		d.AutoJoin = on
		return tx.Record(orgID, "domain.updated", domainTarget(d))
	})
	return d, err
}

// DeleteDomain removes a domain from org.
func (s *Store) DeleteDomain(ctx context.Context, actor model.Actor, orgID, id int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "domain.removed"); err != nil {
			return err
		}
		d, err := tx.domain(orgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sso_domains WHERE id = $1`, d.ID); err != nil {
			return fmt.Errorf("delete domain: %w", err)
		}
		return tx.Record(orgID, "domain.removed", domainTarget(d))
	})
}

// AutoJoinOffer is an org an account may join by its verified email's domain.
type AutoJoinOffer struct {
	OrgID   int64  `db:"org_id"`
	OrgName string `db:"display_name"`
	Domain  string `db:"domain"`
}

// autoJoinOffersQuery is AutoJoinOffers' statement (domain $1, account $2).
// The org is looked up by key (LATERAL ... OFFSET 0): joined, a new org's
// domain could be merged with the whole orgs index
// (TestPeopleBehindRowsAreLookedUp).
const autoJoinOffersQuery = `SELECT d.org_id, o.display_name, d.domain FROM sso_domains d
	CROSS JOIN LATERAL (SELECT o.display_name FROM orgs o WHERE o.id = d.org_id OFFSET 0) o
	WHERE d.domain = $1 AND d.verified_at IS NOT NULL AND d.auto_join
	AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = d.org_id AND m.account_id = $2)`

// AutoJoinOffers lists orgs with auto-join on a verified domain matching the
// account's verified email, that the account is not in yet.
func (s *Store) AutoJoinOffers(ctx context.Context, acc model.Account) ([]AutoJoinOffer, error) {
	if !acc.Verified() {
		return nil, nil
	}
	var out []AutoJoinOffer
	err := s.db.SelectContext(ctx, &out, autoJoinOffersQuery, model.EmailDomain(acc.Email), acc.ID)
	if err != nil {
		return nil, fmt.Errorf("auto-join offers: %w", err)
	}
	return out, nil
}

// AutoJoin makes the actor a member of org through an auto-join domain.
func (s *Store) AutoJoin(ctx context.Context, actor model.Actor, orgID int64) error {
	return s.InTx(ctx, actor, func(tx *Tx) error {
		org, err := tx.lockOrg(orgID)
		if err != nil {
			return err
		}
		acc, err := tx.accountByID(actor.AccountID)
		if err != nil {
			return err
		}
		var d model.SSODomain
		err = tx.GetContext(ctx, &d, `SELECT `+domainCols+` FROM sso_domains WHERE org_id = $1 AND domain = $2
			AND verified_at IS NOT NULL AND auto_join`, orgID, model.EmailDomain(acc.Email))
		if errors.Is(err, sql.ErrNoRows) || !acc.Verified() {
			return model.NotFound("organization")
		}
		if err != nil {
			return fmt.Errorf("auto-join domain: %w", err)
		}
		if err := tx.checkSeats(org, 1); err != nil {
			return err
		}
		if err := tx.insertMembership(orgID, acc.ID, model.RoleMember); err != nil {
			return err
		}
		return tx.Record(orgID, "domain.auto_joined", model.Target{Kind: "account", ID: strconv.FormatInt(acc.ID, 10), Label: acc.Email})
	})
}

// ---- setup links ----

const setupLinkCols = `id, org_id, created_by, created_by_email, expires_at, used_at, revoked_at, created_at`

// CreateSetupLink makes a 24-hour, single-use link an owner hands to an IT
// admin. Only its hash is stored; the secret is returned once.
func (s *Store) CreateSetupLink(ctx context.Context, actor model.Actor, orgID int64) (string, model.SSOSetupLink, error) {
	secret, hash := NewSecret("sso_")
	var l model.SSOSetupLink
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "sso.setup_link_created"); err != nil {
			return err
		}
		err := tx.GetContext(ctx, &l, `INSERT INTO sso_setup_links (org_id, token_hash, created_by, created_by_email, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+setupLinkCols,
			orgID, hash, actor.AccountID, actor.Email, tx.Now().Add(model.SetupLinkTTL), tx.Now())
		if err != nil {
			return fmt.Errorf("create setup link: %w", err)
		}
		return tx.Record(orgID, "sso.setup_link_created", setupTarget(l))
	})
	return secret, l, err
}

func setupTarget(l model.SSOSetupLink) model.Target {
	return model.Target{Kind: "sso_setup_link", ID: strconv.FormatInt(l.ID, 10), Label: "expires " + l.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")}
}

// RevokeSetupLink ends a setup link and any setup session it opened.
func (s *Store) RevokeSetupLink(ctx context.Context, actor model.Actor, orgID, id int64) (model.SSOSetupLink, error) {
	var l model.SSOSetupLink
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		if _, err := tx.requireSSOOwner(orgID, "sso.setup_link_revoked"); err != nil {
			return err
		}
		err := tx.GetContext(ctx, &l, `UPDATE sso_setup_links SET revoked_at = COALESCE(revoked_at, $3)
			WHERE org_id = $1 AND id = $2 RETURNING `+setupLinkCols, orgID, id, tx.Now())
		if err != nil {
			return notFound(err, "setup link")
		}
		return tx.Record(orgID, "sso.setup_link_revoked", setupTarget(l))
	})
	return l, err
}

// SetupActor is who a setup session acts as: the owner who made the link,
// so every step is attributed to them.
func SetupActor(l model.SSOSetupLink, ip string) model.Actor {
	a := model.Actor{Email: l.CreatedByEmail, IP: ip}
	if l.CreatedBy != nil {
		a.AccountID = *l.CreatedBy
	}
	return a
}

// OpenSetupLink consumes a setup link (once) and binds a setup session to
// the returned secret, which the browser keeps in a cookie.
func (s *Store) OpenSetupLink(ctx context.Context, token, ip string) (string, model.SSOSetupLink, error) {
	session, sessionHash := NewSecret("")
	var l model.SSOSetupLink
	if !model.ValidText(token) {
		return "", l, model.NotFound("setup link")
	}
	err := s.InTx(ctx, model.Actor{IP: ip}, func(tx *Tx) error {
		err := tx.GetContext(ctx, &l, `SELECT `+setupLinkCols+` FROM sso_setup_links WHERE token_hash = $1 FOR UPDATE`, HashSecret(token))
		if err != nil {
			return notFound(err, "setup link")
		}
		tx.actor = SetupActor(l, ip)
		if st := l.State(tx.Now()); st != "active" {
			return tx.Deny(l.OrgID, "sso.setup_link_opened", setupTarget(l), model.Conflict("This setup link was already %s. Ask the owner for a new one.", map[string]string{"opened": "used", "revoked": "revoked", "expired": "expired"}[st]))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sso_setup_links SET used_at = $1, session_hash = $2 WHERE id = $3`, tx.Now(), sessionHash, l.ID); err != nil {
			return fmt.Errorf("open setup link: %w", err)
		}
		return tx.Record(l.OrgID, "sso.setup_link_opened", setupTarget(l))
	})
	return session, l, err
}

// SetupLinkByToken reads a setup link without consuming it, for the page
// that asks before opening (link previews must not burn the link).
func (s *Store) SetupLinkByToken(ctx context.Context, token string) (model.SSOSetupLink, model.Org, error) {
	var l model.SSOSetupLink
	if !model.ValidText(token) {
		return l, model.Org{}, model.NotFound("setup link")
	}
	err := s.db.GetContext(ctx, &l, `SELECT `+setupLinkCols+` FROM sso_setup_links WHERE token_hash = $1`, HashSecret(token))
	if err != nil {
		return l, model.Org{}, notFound(err, "setup link")
	}
	org, err := s.OrgByID(ctx, l.OrgID)
	return l, org, err
}

// SetupSession resolves a setup session cookie to its link while the link is
// neither revoked nor expired.
func (s *Store) SetupSession(ctx context.Context, session string) (model.SSOSetupLink, model.Org, error) {
	var l model.SSOSetupLink
	if session == "" || !model.ValidText(session) {
		return l, model.Org{}, model.NotFound("setup session")
	}
	err := s.db.GetContext(ctx, &l, `SELECT `+setupLinkCols+` FROM sso_setup_links WHERE session_hash = $1`, HashSecret(session))
	if err != nil {
		return l, model.Org{}, notFound(err, "setup session")
	}
	if l.RevokedAt != nil || !s.Now().Before(l.ExpiresAt) {
		return l, model.Org{}, model.NotFound("setup session")
	}
	org, err := s.OrgByID(ctx, l.OrgID)
	return l, org, err
}

// SaveSSOViaSetup saves the connection from a setup session, attributed to
// the owner who made the link.
func (s *Store) SaveSSOViaSetup(ctx context.Context, l model.SSOSetupLink, ip string, in SaveSSOInput) (model.SSOConnection, error) {
	var out model.SSOConnection
	err := s.InTx(ctx, SetupActor(l, ip), func(tx *Tx) error {
		// The link's maker must still be an owner: a demoted owner's link dies.
		if _, err := tx.requireSSOOwner(l.OrgID, "sso.connected"); err != nil {
			return model.NotFound("setup session")
		}
		var err error
		out, err = tx.saveSSO(l.OrgID, in, "setup link #"+strconv.FormatInt(l.ID, 10))
		return err
	})
	return out, err
}
