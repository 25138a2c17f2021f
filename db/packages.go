package db

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"guildhall/db/model"
)

const packageCols = `p.id, p.org_id, p.publisher_id, o.slug AS vendor, o.display_name AS vendor_name, p.slug, p.name, p.type,
	p.description, p.price_cents, p.visibility, p.manifest, p.created_at, p.updated_at`

// packageFrom looks each package's vendor up (LATERAL ... OFFSET 0): joined,
// a plan could merge the few packages with the whole orgs index, reading
// every org up to a new vendor's (TestPeopleBehindRowsAreLookedUp).
const packageFrom = ` FROM packages p CROSS JOIN LATERAL (SELECT * FROM orgs o WHERE o.id = p.org_id OFFSET 0) o`

// visibleTo is SPEC 10's visibility as SQL for viewer $1 (0 = signed out),
// the same rule as model.CanSeePackage.
const visibleTo = `(p.visibility = 'public'
	OR (p.visibility = 'org_only' AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = p.org_id AND m.account_id = $1))
	OR (p.visibility = 'private' AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = p.org_id AND m.account_id = $1
		AND (m.role IN ('owner', 'admin') OR p.publisher_id = $1))))`

func packageTarget(p model.Package) model.Target {
	return model.Target{Kind: "package", ID: strconv.FormatInt(p.ID, 10), Label: p.Slug}
}

// PublishPackage lists a package under org (owner, admin).
func (s *Store) PublishPackage(ctx context.Context, actor model.Actor, orgID int64, in model.PackageInput) (model.Package, error) {
	var p model.Package
	if err := model.ApplyPackageInput(&p, in, true); err != nil {
		return p, err
	}
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		if !model.Can(role, model.ActPublishPackages) {
			return tx.Deny(orgID, "package.published", model.Target{Kind: "package", Label: p.Slug}, model.Forbidden("Only owners and admins can publish packages."))
		}
		var id int64
		err = tx.GetContext(ctx, &id, `INSERT INTO packages (org_id, publisher_id, slug, name, type, description, price_cents, visibility, manifest, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
			orgID, actor.AccountID, p.Slug, p.Name, p.Type, p.Description, p.PriceCents, p.Visibility, p.Manifest, tx.Now())
		if isUniqueViolation(err, "packages_slug_key") {
			return model.InvalidField("slug", fmt.Sprintf("The slug %q is taken. Choose another.", p.Slug))
		}
		if err != nil {
			return fmt.Errorf("insert package: %w", err)
		}
		if p, err = tx.packageByID(id); err != nil {
			return err
		}
		return tx.Record(orgID, "package.published", packageTarget(p))
	})
	return p, err
}

func (tx *Tx) packageByID(id int64) (model.Package, error) {
	var p model.Package
	err := tx.GetContext(tx.ctx, &p, `SELECT `+packageCols+packageFrom+` WHERE p.id = $1`, id)
	return p, notFound(err, "package")
}

// UpdatePackage edits a package of org (owner, admin of the publishing org).
// A visibility change is audited as its own event.
func (s *Store) UpdatePackage(ctx context.Context, actor model.Actor, orgID, id int64, in model.PackageInput) (model.Package, error) {
	var p model.Package
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		role, err := tx.roleIn(orgID, actor.AccountID)
		if err != nil {
			return err
		}
		err = tx.GetContext(ctx, &p, `SELECT `+packageCols+packageFrom+` WHERE p.id = $1 AND p.org_id = $2 FOR UPDATE OF p`, id, orgID)
		if err != nil {
			return notFound(err, "package")
		}
		if !model.CanSeePackage(p.Visibility, role, actor.AccountID, deref(p.PublisherID)) {
			return model.NotFound("package")
		}
		if !model.Can(role, model.ActPublishPackages) {
			return tx.Deny(orgID, "package.updated", packageTarget(p), model.Forbidden("Only owners and admins can edit packages."))
		}
		before := p.Visibility
		if in.Slug != nil && strings.TrimSpace(*in.Slug) != p.Slug {
			return model.InvalidField("slug", "A package's slug cannot change: buyers and scripts refer to it.")
		}
		if err := model.ApplyPackageInput(&p, in, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE packages SET name = $1, type = $2, description = $3, price_cents = $4, visibility = $5,
			manifest = $6, updated_at = $7 WHERE id = $8`, p.Name, p.Type, p.Description, p.PriceCents, p.Visibility, p.Manifest, tx.Now(), id); err != nil {
			return fmt.Errorf("update package: %w", err)
		}
		if p, err = tx.packageByID(id); err != nil {
			return err
		}
		if before != p.Visibility {
			t := packageTarget(p)
			t.Label += ": " + before + " -> " + p.Visibility
			if err := tx.Record(orgID, "package.visibility_changed", t); err != nil {
				return err
			}
		}
		return tx.Record(orgID, "package.updated", packageTarget(p))
	})
	return p, err
}

// PackageFilter narrows the catalogue.
type PackageFilter struct {
	Query string
	Type  string
	OrgID int64 // only this publisher's packages (0 = all)
	Limit int
	// HideOrgs are orgs whose enforced SSO the viewer's session or token
	// did not come through: their org-only and private packages are not
	// listed (public ones are, as for anyone).
	HideOrgs map[int64]bool
}

// defaultPackagesLimit is Packages' limit.
const defaultPackagesLimit = 100

// packageWhere is the catalogue's conditions for viewerID and f, with their
// arguments.
func packageWhere(viewerID int64, f PackageFilter) (string, []any, error) {
	conds := []string{visibleTo}
	args := []any{viewerID}
	if q := strings.TrimSpace(f.Query); q != "" {
		if !model.ValidText(q) {
			return "", nil, model.InvalidField("q", "The search is not valid text.")
		}
		args = append(args, "%"+escapeLike(strings.ToLower(q))+"%")
		n := strconv.Itoa(len(args))
		conds = append(conds, "(lower(p.name) LIKE $"+n+" OR p.slug LIKE $"+n+" OR lower(p.description) LIKE $"+n+" OR o.slug LIKE $"+n+")")
	}
	if f.Type != "" {
		ok := false
		for _, t := range model.PackageTypes {
			ok = ok || t == f.Type
		}
		if !ok {
			return "", nil, model.InvalidField("type", "Unknown type: use "+strings.Join(model.PackageTypes, ", ")+".")
		}
		args = append(args, f.Type)
		conds = append(conds, "p.type = $"+strconv.Itoa(len(args)))
	}
	if f.OrgID != 0 {
		args = append(args, f.OrgID)
		conds = append(conds, "p.org_id = $"+strconv.Itoa(len(args)))
	}
	if len(f.HideOrgs) > 0 {
		ids := make([]int64, 0, len(f.HideOrgs))
		for id, hide := range f.HideOrgs {
			if hide {
				ids = append(ids, id)
			}
		}
		args = append(args, pq.Array(ids))
		conds = append(conds, "(p.visibility = 'public' OR p.org_id <> ALL($"+strconv.Itoa(len(args))+"::bigint[]))")
	}
	return strings.Join(conds, " AND "), args, nil
}

// Packages lists the packages viewerID may see (0 = signed out: public only).
func (s *Store) Packages(ctx context.Context, viewerID int64, f PackageFilter) ([]model.Package, error) {
	where, args, err := packageWhere(viewerID, f)
	if err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = defaultPackagesLimit
	}
	query, args := limitArgs(`SELECT `+packageCols+packageFrom+` WHERE `+where+
		` ORDER BY lower(p.name), p.id LIMIT :limit`, f.Limit, args, defaultPackagesLimit)
	var ps []model.Package
	if err := s.db.SelectContext(ctx, &ps, query, args...); err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	return ps, nil
}

// CataloguePageSize is how many packages a catalogue page shows (a grid of
// three or four columns).
const CataloguePageSize = 24

// CataloguePage is one page of the catalogue (page from 1, perPage packages
// from 1 to 200, by name) and how many packages match in all, counted in the
// same statement. The page and the API both read it.
func (s *Store) CataloguePage(ctx context.Context, viewerID int64, f PackageFilter, page, perPage int) ([]model.Package, int, error) {
	where, args, err := packageWhere(viewerID, f)
	if err != nil {
		return nil, 0, err
	}
	page = max(min(page, model.MaxPage), 1)
	perPage = max(min(perPage, 200), 1)
	query, args := limitArgs(`SELECT `+packageCols+`, count(*) OVER () AS total`+packageFrom+` WHERE `+where+
		` ORDER BY lower(p.name), p.id LIMIT :limit OFFSET :offset`, perPage, args, CataloguePageSize, model.DefaultPerPage, defaultPackagesLimit)
	query, args = offsetArgs(query, (page-1)*perPage, args)
	// Scanned by hand, in packageCols order: sqlx's reflection over a
	// page of packages cost more than its statement.
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list packages: %w", err)
	}
	defer rows.Close()
	ps := make([]model.Package, 0, perPage)
	total := 0
	for rows.Next() {
		var p model.Package
		if err := rows.Scan(&p.ID, &p.OrgID, &p.PublisherID, &p.Vendor, &p.VendorName, &p.Slug, &p.Name, &p.Type,
			&p.Description, &p.PriceCents, &p.Visibility, &p.Manifest, &p.CreatedAt, &p.UpdatedAt, &total); err != nil {
			return nil, 0, fmt.Errorf("list packages: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list packages: %w", err)
	}
	if len(ps) == 0 && page > 1 {
		// A page past the end has no row to carry the total: the first
		// page's is the answer's.
		_, total, err = s.CataloguePage(ctx, viewerID, f, 1, perPage)
		return ps, total, err
	}
	return ps, total, nil
}

// Package reads one package by id or slug as viewerID sees it: a package
// the viewer cannot see is not found, never forbidden.
func (s *Store) Package(ctx context.Context, viewerID int64, ref string) (model.Package, error) {
	var p model.Package
	if !model.ValidText(ref) {
		return p, model.NotFound("package")
	}
	q := `SELECT ` + packageCols + packageFrom + ` WHERE ` + visibleTo + ` AND `
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		err = s.db.GetContext(ctx, &p, q+`p.id = $2`, viewerID, id)
	} else {
		err = s.db.GetContext(ctx, &p, q+`p.slug = $2`, viewerID, strings.ToLower(ref))
	}
	return p, notFound(err, "package")
}

// Entitlements lists what org owns (any member).
func (s *Store) Entitlements(ctx context.Context, actor model.Actor, orgID int64) ([]model.Entitlement, error) {
	if _, err := s.RoleIn(ctx, orgID, actor.AccountID); err != nil {
		return nil, err
	}
	var es []model.Entitlement
	err := s.db.SelectContext(ctx, &es, `SELECT e.org_id, e.package_id, p.slug AS package_slug, p.name AS package_name, p.type AS package_type,
		o.slug AS vendor, e.purchase_id, e.created_at FROM entitlements e JOIN packages p ON p.id = e.package_id
		CROSS JOIN LATERAL (SELECT o.slug FROM orgs o WHERE o.id = p.org_id OFFSET 0) o
		WHERE e.org_id = $1 ORDER BY e.created_at DESC, e.package_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list entitlements: %w", err)
	}
	return es, nil
}

// Owns reports whether org holds an entitlement to the package.
func (s *Store) Owns(ctx context.Context, orgID, packageID int64) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM entitlements WHERE org_id = $1 AND package_id = $2`, orgID, packageID)
	return n > 0, err
}

// Download returns a package's manifest: the caller needs an entitlement in
// an org they belong to (only orgID when a token is bound to it), or to have
// published it (the publishing account, or an owner or admin of its org).
// exclude are orgs that count for neither (those SSO enforcement shuts an
// API token's account out of).
func (s *Store) Download(ctx context.Context, actor model.Actor, ref string, boundOrg *int64, exclude ...int64) (model.Package, error) {
	p, err := s.Package(ctx, actor.AccountID, ref)
	if err != nil {
		return p, err
	}
	var n int
	err = s.db.GetContext(ctx, &n, `SELECT count(*) FROM entitlements e JOIN memberships m ON m.org_id = e.org_id AND m.account_id = $1
		WHERE e.package_id = $2 AND ($3::bigint IS NULL OR e.org_id = $3) AND m.role <> 'billing'
		  AND e.org_id <> ALL($4::bigint[])`, actor.AccountID, p.ID, boundOrg, pq.Array(append([]int64{}, exclude...)))
	if err != nil {
		return p, fmt.Errorf("check entitlement: %w", err)
	}
	if mayDownload(p, actor.AccountID, n > 0, "", boundOrg, exclude) {
		return p, nil
	}
	role, err := s.RoleIn(ctx, p.OrgID, actor.AccountID)
	if err == nil && mayDownload(p, actor.AccountID, false, role, boundOrg, exclude) {
		return p, nil
	}
	return p, model.Forbidden("Downloading %s needs an entitlement: buy or install it first.", p.Slug)
}

// mayDownload is Download's rule: an entitlement (entitled: in an org the
// account belongs to other than as billing, the bound org if any), or
// having published the package, as its publisher or as an owner or admin
// (publisherRole, "" when unknown or none) of its org.
func mayDownload(p model.Package, accountID int64, entitled bool, publisherRole model.Role, boundOrg *int64, exclude []int64) bool {
	if entitled {
		return true
	}
	if slices.Contains(exclude, p.OrgID) {
		return false
	}
	if deref(p.PublisherID) == accountID {
		return true
	}
	return (publisherRole == model.RoleOwner || publisherRole == model.RoleAdmin) && (boundOrg == nil || *boundOrg == p.OrgID)
}
