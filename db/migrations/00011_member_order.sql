-- +goose Up
-- The members list's order (owners, admins, members, billing; then name,
-- then id) stored on memberships, so every page, deep ones included, is read
-- from one index instead of sorting the org's joined members (10,000 on the
-- large data set) on each request. docs/scaling.md has the figures.
--
-- sort_rank follows the role by itself (a generated column); sort_name is the
-- account's lower-cased name, copied when the membership is made and again
-- whenever the account's name changes (triggers below).
ALTER TABLE memberships
    ADD COLUMN sort_rank smallint GENERATED ALWAYS AS (
        CASE role WHEN 'owner' THEN 1 WHEN 'admin' THEN 2 WHEN 'member' THEN 3 ELSE 4 END) STORED,
    ADD COLUMN sort_name text;
UPDATE memberships m SET sort_name = lower(a.name) FROM accounts a WHERE a.id = m.account_id;
ALTER TABLE memberships ALTER COLUMN sort_name SET NOT NULL;
CREATE INDEX memberships_org_order_idx ON memberships (org_id, sort_rank, sort_name, account_id);

-- +goose StatementBegin
CREATE FUNCTION membership_sort_name() RETURNS trigger AS $$
BEGIN
    -- FOR SHARE waits for a rename of the account in flight (and holds off
    -- the next one until this commits), so the copied name is never stale.
    SELECT lower(name) INTO NEW.sort_name FROM accounts WHERE id = NEW.account_id FOR SHARE;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER memberships_sort_name BEFORE INSERT OR UPDATE OF account_id, sort_name ON memberships
    FOR EACH ROW EXECUTE FUNCTION membership_sort_name();

-- +goose StatementBegin
CREATE FUNCTION account_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET sort_name = lower(NEW.name) WHERE account_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER accounts_sort_name AFTER UPDATE OF name ON accounts
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION account_sort_name();

-- Members per role of each org, so a role filter's total is one row instead
-- of counting the role's memberships (9,698 on the large set) per request.
-- Kept like the counters of 00009: a statement-level trigger adds each
-- statement's net change per (org, role); rows are upserted in key order so
-- concurrent statements cannot deadlock on them.
CREATE TABLE member_role_counts (
    org_id  bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    role    text NOT NULL,
    members integer NOT NULL,
    PRIMARY KEY (org_id, role)
);
INSERT INTO member_role_counts (org_id, role, members)
    SELECT org_id, role, count(*) FROM memberships GROUP BY org_id, role;

-- +goose StatementBegin
CREATE FUNCTION keep_role_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_role_counts AS c (org_id, role, members)
            SELECT org_id, role, count(*) FROM new_rows GROUP BY org_id, role ORDER BY org_id, role
            ON CONFLICT (org_id, role) DO UPDATE SET members = c.members + EXCLUDED.members;
    ELSIF TG_OP = 'DELETE' THEN
        -- Not an upsert: an org deleted in the same statement has taken its
        -- rows already, and a new row would name an org that is gone.
        PERFORM 1 FROM member_role_counts c
            WHERE (c.org_id, c.role) IN (SELECT org_id, role FROM old_rows)
            ORDER BY c.org_id, c.role FOR NO KEY UPDATE;
        UPDATE member_role_counts c SET members = c.members - d.n
            FROM (SELECT org_id, role, count(*) AS n FROM old_rows GROUP BY org_id, role) d
            WHERE c.org_id = d.org_id AND c.role = d.role;
    ELSE
        INSERT INTO member_role_counts AS c (org_id, role, members)
            SELECT org_id, role, sum(n) FROM (
                SELECT org_id, role, 1 AS n FROM new_rows
                UNION ALL SELECT org_id, role, -1 FROM old_rows) x
            GROUP BY org_id, role HAVING sum(n) <> 0 ORDER BY org_id, role
            ON CONFLICT (org_id, role) DO UPDATE SET members = c.members + EXCLUDED.members;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER memberships_role_count_ins AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_role_count();
CREATE TRIGGER memberships_role_count_del AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_role_count();
CREATE TRIGGER memberships_role_count_upd AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_role_count();

-- "Last active" is accounts.last_active_at alone from now on: every write of
-- a session's last_seen_at or a token's last_used_at writes it too (db/accounts.go,
-- db/tokens.go), so the members list no longer reads max() over both per row.
-- Bring older rows up to date once.
UPDATE accounts a SET last_active_at = x.t FROM (
    SELECT account_id, max(t) AS t FROM (
        SELECT account_id, last_seen_at AS t FROM sessions
        UNION ALL SELECT account_id, last_used_at FROM api_tokens WHERE last_used_at IS NOT NULL) u
    GROUP BY account_id) x
WHERE a.id = x.account_id AND (a.last_active_at IS NULL OR a.last_active_at < x.t);

-- +goose Down
DROP TRIGGER memberships_role_count_upd ON memberships;
DROP TRIGGER memberships_role_count_del ON memberships;
DROP TRIGGER memberships_role_count_ins ON memberships;
DROP FUNCTION keep_role_count();
DROP TABLE member_role_counts;
DROP TRIGGER accounts_sort_name ON accounts;
DROP FUNCTION account_sort_name();
DROP TRIGGER memberships_sort_name ON memberships;
DROP FUNCTION membership_sort_name();
DROP INDEX memberships_org_order_idx;
ALTER TABLE memberships DROP COLUMN sort_name, DROP COLUMN sort_rank;
