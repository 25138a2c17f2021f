package db_test

import (
	"reflect"
	"strconv"
	"testing"

	"guildhall/db"
	"guildhall/db/model"
)

// TestPackageDetailMatchesItsParts: the package page's one hand-scanned
// statement answers field by field what Package, PackageStatusIn and
// Download (bound to the org) answer apart, for publishers, owners, admins,
// members and billing members, in the publishing org and others, with and
// without an entitlement or approvals, by id and by slug.
func TestPackageDetailMatchesItsParts(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	admin, _ := e.user("Admin Person")
	member, _ := e.user("Member Person")
	billing, _ := e.user("Billing Person")
	outsider, _ := e.user("Outside Person")
	pub := e.org(owner, "Publisher Org")
	buyer := e.org(outsider, "Buyer Org")
	e.join(pub, admin, model.RoleAdmin)
	e.join(pub, member, model.RoleMember)
	e.join(pub, billing, model.RoleBilling)
	e.join(buyer, member, model.RoleMember)
	e.join(buyer, billing, model.RoleBilling)

	var ids []int64
	for i, vis := range []string{"public", "org_only", "private", "public"} {
		name := "Pkg " + strconv.Itoa(i)
		price := 0
		if i == 3 {
			price = 500
		}
		p, err := e.s.PublishPackage(e.ctx, owner, pub, model.PackageInput{Slug: ptr("pkg-" + strconv.Itoa(i)), Name: &name, Type: ptr("skill"),
			Visibility: &vis, Description: ptr("d"), Manifest: ptr("m"), PriceCents: ptr(int64(price))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	// The buyer org owns package 0; package 3 has a rejected then a pending
	// approval there, package 1 a rejected one in the publisher org.
	e.exec(`INSERT INTO purchases (org_id, package_id, amount_cents) VALUES ($1, $2, 0)`, buyer, ids[0])
	e.exec(`INSERT INTO entitlements (org_id, package_id, purchase_id) SELECT org_id, package_id, id FROM purchases WHERE org_id = $1`, buyer)
	e.exec(`INSERT INTO approvals (org_id, package_id, requested_by, amount_cents, status, reason, expires_at) VALUES
		($1, $2, $3, 500, 'rejected', 'too dear', now() + interval '1 day'),
		($1, $2, $3, 500, 'pending', '', now() + interval '2 days'),
		($4, $5, $3, 0, 'rejected', 'no', now())`, buyer, ids[3], member.AccountID, pub, ids[1])

	n := 0
	for _, who := range []model.Actor{owner, admin, member, billing, outsider} {
		for _, org := range []int64{pub, buyer} {
			for i, id := range ids {
				for _, ref := range []string{strconv.FormatInt(id, 10), "pkg-" + strconv.Itoa(i), "PKG-" + strconv.Itoa(i)} {
					got, err := e.s.PackageDetailIn(e.ctx, who.AccountID, ref, org)
					p, perr := e.s.Package(e.ctx, who.AccountID, ref)
					if (err == nil) != (perr == nil) || model.CodeOf(err) != model.CodeOf(perr) {
						t.Fatalf("%s %s in %d: err %v, Package err %v", who.Email, ref, org, err, perr)
					}
					if perr != nil {
						continue
					}
					n++
					if !reflect.DeepEqual(got.Package, p) {
						t.Errorf("%s %s: package\n%+v\nwant %+v", who.Email, ref, got.Package, p)
					}
					st, err := e.s.PackageStatusIn(e.ctx, org, p.ID)
					if err != nil {
						t.Fatal(err)
					}
					if got.Owned != st.Owned || (got.Approval == nil) != (st.Approval == nil) {
						t.Errorf("%s %s in %d: owned %v approval %+v, want %v %+v", who.Email, ref, org, got.Owned, got.Approval, st.Owned, st.Approval)
					} else if a := st.Approval; a != nil && (*got.Approval != db.ApprovalState{Status: a.Status, Reason: a.Reason, ExpiresAt: a.ExpiresAt}) {
						t.Errorf("%s %s in %d: approval %+v, want %+v", who.Email, ref, org, got.Approval, a)
					}
					_, derr := e.s.Download(e.ctx, who, ref, &org)
					if got.CanDownload != (derr == nil) {
						t.Errorf("%s %s in %d: can download %v, Download says %v", who.Email, ref, org, got.CanDownload, derr)
					}
				}
			}
		}
	}
	if n < 60 {
		t.Errorf("only %d visible cases compared", n)
	}
	if _, err := e.s.PackageDetailIn(e.ctx, owner.AccountID, "999999", pub); model.CodeOf(err) != model.CodeNotFound {
		t.Errorf("missing package: %v, want not found", err)
	}
}

// TestCataloguePageMatchesPackages: the catalogue's hand-scanned page is,
// field by field, the slice of what Packages (sqlx) reads with the same
// filter, and its total is the number of all matches, for a signed-out
// viewer, a member and an outsider, with a search, a type and hidden orgs.
func TestCataloguePageMatchesPackages(t *testing.T) {
	e := newTG(t)
	owner, _ := e.user("Owner Person")
	member, _ := e.user("Member Person")
	outsider, _ := e.user("Outside Person")
	pub := e.org(owner, "Publisher Org")
	e.join(pub, member, model.RoleMember)
	for i := range 30 {
		vis := []string{"public", "org_only", "private"}[i%3]
		typ := model.PackageTypes[i%len(model.PackageTypes)]
		name := "Kit " + strconv.Itoa(i)
		if _, err := e.s.PublishPackage(e.ctx, owner, pub, model.PackageInput{Slug: ptr("kit-" + strconv.Itoa(i)), Name: &name, Type: &typ,
			Visibility: &vis, Description: ptr("about kit " + strconv.Itoa(i)), Manifest: ptr("m"), PriceCents: ptr(int64(i * 10))}); err != nil {
			t.Fatal(err)
		}
	}
	filters := []db.PackageFilter{{}, {Query: "kit 1"}, {Type: model.PackageTypes[0]}, {HideOrgs: map[int64]bool{pub: true}}}
	for _, viewer := range []int64{0, owner.AccountID, member.AccountID, outsider.AccountID} {
		for fi, f := range filters {
			f.Limit = 200
			all, err := e.s.Packages(e.ctx, viewer, f)
			if err != nil {
				t.Fatal(err)
			}
			for page := 1; page <= 5; page++ {
				got, total, err := e.s.CataloguePage(e.ctx, viewer, f, page, 12)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi := min((page-1)*12, len(all)), min(page*12, len(all))
				want := all[lo:hi]
				if len(got) == 0 && len(want) == 0 {
					// Past the end: no package, and still the count.
					if total != len(all) {
						t.Errorf("viewer %d filter %d page %d (past the end): total %d, want %d", viewer, fi, page, total, len(all))
					}
					continue
				}
				if total != len(all) || !reflect.DeepEqual(got, want) {
					t.Errorf("viewer %d filter %d page %d: total %d want %d\n%+v\nwant %+v", viewer, fi, page, total, len(all), got, want)
				}
			}
		}
	}
}
