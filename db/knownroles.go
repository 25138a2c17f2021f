package db

import (
	"context"

	"guildhall/db/model"
)

type knownRolesKey struct{}

type knownRoles struct {
	accountID int64
	roles     map[int64]model.Role
	bases     map[int64]model.Permission // each org's member base permission
}

// WithKnownRoles returns ctx carrying accountID's role in each of ws, as the
// request has just read them (the workspace list every page loads). RoleIn
// answers from it instead of asking again: a page's store calls each check
// the role, and the wallet page asked five times for the row it already had.
// Only for reads: a request that changes memberships must not carry it (the
// web layer sets it on GET and HEAD only). An org not in ws falls back to
// the database.
func WithKnownRoles(ctx context.Context, accountID int64, ws []model.Workspace) context.Context {
	k := knownRoles{accountID: accountID, roles: make(map[int64]model.Role, len(ws)),
		bases: make(map[int64]model.Permission, len(ws))}
	for _, w := range ws {
		k.roles[w.ID] = w.Role
		k.bases[w.ID] = w.MemberBasePermission
	}
	return context.WithValue(ctx, knownRolesKey{}, k)
}

func knownRole(ctx context.Context, orgID, accountID int64) (model.Role, bool) {
	k, ok := ctx.Value(knownRolesKey{}).(knownRoles)
	if !ok || k.accountID != accountID {
		return "", false
	}
	r, ok := k.roles[orgID]
	return r, ok
}

// knownBase is org's member base permission as the request's workspace list
// read it (that list is as fresh as the roles: a change of the base
// permission moves the session epoch every page checks).
func knownBase(ctx context.Context, orgID, accountID int64) (model.Permission, bool) {
	k, ok := ctx.Value(knownRolesKey{}).(knownRoles)
	if !ok || k.accountID != accountID {
		return "", false
	}
	b := k.bases[orgID]
	return b, b != "" // a workspace read without it (tests) is not known
}
