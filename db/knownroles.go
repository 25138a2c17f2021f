package db

import (
	"context"

	"guildhall/db/model"
)

type knownRolesKey struct{}

type knownRoles struct {
	accountID int64
	roles     map[int64]model.Role
}

// WithKnownRoles returns ctx carrying accountID's role in each of ws, as the
// request has just read them (the workspace list every page loads). RoleIn
// answers from it instead of asking again: a page's store calls each check
// the role, and the wallet page asked five times for the row it already had.
// Only for reads: a request that changes memberships must not carry it (the
// web layer sets it on GET and HEAD only). An org not in ws falls back to
// the database.
func WithKnownRoles(ctx context.Context, accountID int64, ws []model.Workspace) context.Context {
	k := knownRoles{accountID: accountID, roles: make(map[int64]model.Role, len(ws))}
	for _, w := range ws {
		k.roles[w.ID] = w.Role
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
