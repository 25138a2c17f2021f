package demo

import (
	"context"

	"guildhall/db"
	"guildhall/db/model"
)

// extra adds members, teams and agents to the demo org once those areas exist.
func extra(ctx context.Context, s *db.Store, accs map[string]model.Account, acme model.Org) error {
	return nil
}
