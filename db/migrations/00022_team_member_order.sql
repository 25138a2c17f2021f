-- +goose Up
-- The team page lists a team's members a page at a time, in the team's order
-- (maintainers, then members; then name, then id). A team has no size limit
-- but its org's: one of 3,000 members rendered a 4.8 MB page in 100 ms, as
-- every member was joined to their account and sorted by name per request.
-- The order is now stored on team_members, as 00011 stores the members
-- list's on memberships, and a page is an index range.
--
-- sort_rank follows the team role by itself (a generated column); sort_name
-- is the account's lower-cased name, copied when the member joins (the
-- trigger function memberships already use) and again whenever the
-- account's name changes (account_sort_name, which now updates both).
ALTER TABLE team_members
    ADD COLUMN sort_rank smallint GENERATED ALWAYS AS (
        CASE role WHEN 'maintainer' THEN 1 ELSE 2 END) STORED,
    ADD COLUMN sort_name text;
UPDATE team_members tm SET sort_name = lower(a.name) FROM accounts a WHERE a.id = tm.account_id;
ALTER TABLE team_members ALTER COLUMN sort_name SET NOT NULL;
-- The role rides along (INCLUDE) so a page deep in a big team is counted
-- in the index alone, where the table is vacuumed.
CREATE INDEX team_members_order_idx ON team_members (team_id, sort_rank, sort_name, account_id) INCLUDE (role);

CREATE TRIGGER team_members_sort_name BEFORE INSERT OR UPDATE OF account_id, sort_name ON team_members
    FOR EACH ROW EXECUTE FUNCTION membership_sort_name();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION account_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET sort_name = lower(NEW.name) WHERE account_id = NEW.id;
    UPDATE team_members SET sort_name = lower(NEW.name) WHERE account_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION account_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET sort_name = lower(NEW.name) WHERE account_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
DROP TRIGGER team_members_sort_name ON team_members;
DROP INDEX team_members_order_idx;
ALTER TABLE team_members DROP COLUMN sort_name, DROP COLUMN sort_rank;
