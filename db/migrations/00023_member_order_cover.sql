-- +goose Up
-- The members list reads a page of the org's order index, then each
-- member's account. It also read each membership a second time for the
-- role and the join date (an index probe per row, about a sixth of the
-- statement). They now ride along in the order index (INCLUDE), as a team
-- member's role does in team_members_order_idx (00022).
CREATE INDEX memberships_org_order_cover_idx ON memberships (org_id, sort_rank, sort_name, account_id) INCLUDE (role, created_at);
DROP INDEX memberships_org_order_idx;
ALTER INDEX memberships_org_order_cover_idx RENAME TO memberships_org_order_idx;

-- +goose Down
CREATE INDEX memberships_org_order_plain_idx ON memberships (org_id, sort_rank, sort_name, account_id);
DROP INDEX memberships_org_order_idx;
ALTER INDEX memberships_org_order_plain_idx RENAME TO memberships_org_order_idx;
