package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"guildhall/db/model"
)

// PackageDetail is what a package's page shows a member of an org: the
// package, whether the org owns it, its latest approval there, and whether
// the viewer may download its manifest.
type PackageDetail struct {
	model.Package
	Owned       bool
	Approval    *ApprovalState // the latest approval of the package in the org, if any
	CanDownload bool
}

// ApprovalState is the part of an approval a package's page shows.
type ApprovalState struct {
	Status    string
	Reason    string
	ExpiresAt time.Time
}

// packageDetailQuery reads Package, PackageStatusIn and Download's facts in
// one statement: viewer $1, package $2 (id or slug), org $3.
func packageDetailQuery(bySlug bool) string {
	ref := `p.id = $2`
	if bySlug {
		ref = `p.slug = $2`
	}
	return `SELECT ` + packageCols + `,
	EXISTS (SELECT 1 FROM entitlements e WHERE e.org_id = $3 AND e.package_id = p.id) AS owned,
	EXISTS (SELECT 1 FROM entitlements e JOIN memberships m ON m.org_id = e.org_id AND m.account_id = $1
		WHERE e.package_id = p.id AND e.org_id = $3 AND m.role <> 'billing') AS entitled,
	(SELECT m.role FROM memberships m WHERE m.org_id = p.org_id AND m.account_id = $1) AS publisher_role,
	ap.status, ap.reason, ap.expires_at` + packageFrom + `
	LEFT JOIN LATERAL (SELECT a.status, a.reason, a.expires_at FROM approvals a
		WHERE a.org_id = $3 AND a.package_id = p.id ORDER BY a.id DESC LIMIT 1) ap ON true
	WHERE ` + visibleTo + ` AND ` + ref
}

// PackageDetailIn reads one package by id or slug as viewerID sees it, with
// its status in org orgID (the viewer's active workspace) and whether the
// viewer may download it there (Download with the org bound): one
// statement, scanned by hand. A package the viewer cannot see is not found.
func (s *Store) PackageDetailIn(ctx context.Context, viewerID int64, ref string, orgID int64) (PackageDetail, error) {
	var d PackageDetail
	if !model.ValidText(ref) {
		return d, model.NotFound("package")
	}
	var arg any
	bySlug := false
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		arg = id
	} else {
		arg, bySlug = strings.ToLower(ref), true
	}
	rows, err := s.db.QueryContext(ctx, packageDetailQuery(bySlug), viewerID, arg, orgID)
	if err != nil {
		return d, fmt.Errorf("package detail: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return d, fmt.Errorf("package detail: %w", err)
		}
		return d, notFound(sql.ErrNoRows, "package")
	}
	p := &d.Package
	var entitled bool
	var role sql.NullString
	var status, reason sql.NullString
	var expires sql.NullTime
	if err := rows.Scan(&p.ID, &p.OrgID, &p.PublisherID, &p.Vendor, &p.VendorName, &p.Slug, &p.Name, &p.Type,
		&p.Description, &p.PriceCents, &p.Visibility, &p.Manifest, &p.CreatedAt, &p.UpdatedAt,
		&d.Owned, &entitled, &role, &status, &reason, &expires); err != nil {
		return d, fmt.Errorf("package detail: %w", err)
	}
	if status.Valid {
		d.Approval = &ApprovalState{Status: status.String, Reason: reason.String, ExpiresAt: expires.Time}
	}
	d.CanDownload = mayDownload(d.Package, viewerID, entitled, model.Role(role.String), &orgID, nil)
	if err := rows.Close(); err != nil {
		return d, fmt.Errorf("package detail: %w", err)
	}
	return d, nil
}
