package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"guildhall/db/model"
)

// ssoPageQuery is SSOSettings' four reads in one row: the connection's
// columns (null without one) and the domains, setup links and bypasses as
// JSON arrays in the order and number SSOSettings lists them.
const ssoPageQuery = `SELECT c.org_id, c.protocol, c.issuer, c.client_id, c.client_secret_enc, c.metadata_xml, c.metadata_url,
	c.enabled, c.enforced, c.idp_initiated, c.config_hash, c.tested_config_hash, c.tested_at, c.created_at, c.updated_at,
	(SELECT json_agg(d ORDER BY d.domain) FROM (SELECT ` + domainCols + ` FROM sso_domains WHERE org_id = $1) d) AS domains,
	(SELECT json_agg(l ORDER BY l.id DESC) FROM (SELECT ` + setupLinkCols + ` FROM sso_setup_links
		WHERE org_id = $1 ORDER BY id DESC LIMIT 20) l) AS setup_links,
	(SELECT json_agg(e ORDER BY e.id DESC) FROM (SELECT ` + auditCols + ` FROM audit_events
		WHERE org_id = $1 AND action = 'sso.bypassed' ORDER BY id DESC LIMIT 20) e) AS bypasses
FROM (SELECT $1::bigint AS id) o LEFT JOIN sso_connections c ON c.org_id = o.id`

// The JSON rows of ssoPageQuery, keyed by column name.
type (
	ssoDomainJSON struct {
		ID         int64      `json:"id"`
		OrgID      int64      `json:"org_id"`
		Domain     string     `json:"domain"`
		TXTToken   string     `json:"txt_token"`
		VerifiedAt *time.Time `json:"verified_at"`
		AutoJoin   bool       `json:"auto_join"`
		CreatedAt  time.Time  `json:"created_at"`
	}
	ssoLinkJSON struct {
		ID             int64      `json:"id"`
		OrgID          int64      `json:"org_id"`
		CreatedBy      *int64     `json:"created_by"`
		CreatedByEmail string     `json:"created_by_email"`
		ExpiresAt      time.Time  `json:"expires_at"`
		UsedAt         *time.Time `json:"used_at"`
		RevokedAt      *time.Time `json:"revoked_at"`
		CreatedAt      time.Time  `json:"created_at"`
	}
)

// SSOPage is SSOSettings for the signed-in page, whose workspace already
// holds the org and the viewer's role: the same answers (not found for a
// personal org or a role that may not see SSO), read in one statement
// instead of five.
func (s *Store) SSOPage(ctx context.Context, ws model.Workspace) (SSOSettings, error) {
	if ws.Personal() || !model.CanIn(ws.Kind, ws.Role, model.ActViewSSO) {
		return SSOSettings{}, model.NotFound("SSO settings")
	}
	out := SSOSettings{Org: ws.Org, Role: ws.Role}
	var (
		c                                      model.SSOConnection
		orgID                                  sql.NullInt64
		protocol, issuer, clientID, xml, mdURL sql.NullString
		configHash, testedHash                 sql.NullString
		enabled, enforced, idpInitiated        sql.NullBool
		createdAt, updatedAt                   sql.NullTime
		domains, links, bypasses               []byte
	)
	rows, err := s.db.QueryContext(ctx, ssoPageQuery, ws.ID) // prepared: see handle
	if err != nil {
		return out, fmt.Errorf("load SSO settings: %w", err)
	}
	if !rows.Next() {
		err = rows.Err()
		if err == nil {
			err = sql.ErrNoRows
		}
		rows.Close()
		return out, fmt.Errorf("load SSO settings: %w", err)
	}
	err = rows.Scan(&orgID, &protocol, &issuer, &clientID, &c.ClientSecretEnc, &xml, &mdURL,
		&enabled, &enforced, &idpInitiated, &configHash, &testedHash, &c.TestedAt, &createdAt, &updatedAt,
		&domains, &links, &bypasses)
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return out, fmt.Errorf("load SSO settings: %w", err)
	}
	if orgID.Valid {
		c.OrgID, c.Protocol, c.Issuer, c.ClientID, c.MetadataXML, c.MetadataURL = orgID.Int64, protocol.String, issuer.String, clientID.String, xml.String, mdURL.String
		c.Enabled, c.Enforced, c.IdPInitiated = enabled.Bool, enforced.Bool, idpInitiated.Bool
		c.ConfigHash, c.TestedConfigHash, c.CreatedAt, c.UpdatedAt = configHash.String, testedHash.String, createdAt.Time, updatedAt.Time
		out.Connection = &c
	}
	if domains != nil {
		var ds []ssoDomainJSON
		if err := json.Unmarshal(domains, &ds); err != nil {
			return out, fmt.Errorf("load SSO domains: %w", err)
		}
		for _, d := range ds {
			out.Domains = append(out.Domains, model.SSODomain(d))
		}
	}
	if links != nil {
		var ls []ssoLinkJSON
		if err := json.Unmarshal(links, &ls); err != nil {
			return out, fmt.Errorf("load SSO setup links: %w", err)
		}
		for _, l := range ls {
			out.SetupLinks = append(out.SetupLinks, model.SSOSetupLink(l))
		}
	}
	if bypasses != nil {
		// model.AuditEvent's JSON keys are its column names.
		if err := json.Unmarshal(bypasses, &out.Bypasses); err != nil {
			return out, fmt.Errorf("load SSO bypasses: %w", err)
		}
	}
	return out, nil
}
