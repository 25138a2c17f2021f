-- +goose Up
-- Rate-limit counters shared by every server on this database, so N instances
-- do not multiply a brute-force budget. One row per key and fixed window;
-- rows of past windows are pruned by the limiter.
CREATE TABLE rate_limits (
    key          text NOT NULL CHECK (key <> ''),
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- Indexes checked with EXPLAIN (ANALYZE, BUFFERS) on the large data set
-- (guildhall demo --size large; docs/scaling.md):
-- the agents list of an owner or admin, and the grant picker, page through
-- an org's agents by name (a sort of 100,000 rows before);
CREATE INDEX agents_org_name_idx ON agents (org_id, lower(name), id);
-- the audit log filtered by a whole actor email (a substring scan of a
-- million rows before, 1.8 s).
CREATE INDEX audit_events_org_email_idx ON audit_events (org_id, actor_email, id DESC);
-- the audit log filtered by a date range, listed by (created_at, id) (a walk
-- backwards past every newer event before).
CREATE INDEX audit_events_org_time_idx ON audit_events (org_id, created_at, id);

-- Teams keep their member and grant counts, and orgs their member, team and
-- agent counts: the teams list counted every team's rows on each view
-- (200,000 grant rows for 500 teams), the overview 100,000 agents.
-- Statement-level triggers with transition tables add each statement's net
-- change per row, so a bulk insert updates each team or org once, and adding
-- a delta (never recounting) stays exact under concurrent changes. Rows are
-- locked in id order (FOR NO KEY UPDATE, which foreign-key checks do not
-- wait on) so two statements touching the same rows cannot deadlock.
ALTER TABLE teams
    ADD COLUMN member_count integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    ADD COLUMN grant_count  integer NOT NULL DEFAULT 0 CHECK (grant_count >= 0);
UPDATE teams t SET
    member_count = (SELECT count(*) FROM team_members x WHERE x.team_id = t.id),
    grant_count  = (SELECT count(*) FROM grants x WHERE x.team_id = t.id);
ALTER TABLE orgs
    ADD COLUMN member_count integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    ADD COLUMN team_count   integer NOT NULL DEFAULT 0 CHECK (team_count >= 0),
    ADD COLUMN agent_count  integer NOT NULL DEFAULT 0 CHECK (agent_count >= 0);
UPDATE orgs o SET
    member_count = (SELECT count(*) FROM memberships x WHERE x.org_id = o.id),
    team_count   = (SELECT count(*) FROM teams x WHERE x.org_id = o.id),
    agent_count  = (SELECT count(*) FROM agents x WHERE x.org_id = o.id);

-- keep_count(target table, key column, counter column)
-- +goose StatementBegin
CREATE FUNCTION keep_count() RETURNS trigger AS $$
DECLARE
    target  text := TG_ARGV[0];
    key     text := TG_ARGV[1];
    col     text := TG_ARGV[2];
    changes text;
    ks      bigint[];
    ns      bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        changes := format('SELECT %I AS k, 1 AS n FROM new_rows', key);
    ELSIF TG_OP = 'DELETE' THEN
        changes := format('SELECT %I AS k, -1 AS n FROM old_rows', key);
    ELSE
        changes := format('SELECT %1$I AS k, 1 AS n FROM new_rows UNION ALL SELECT %1$I, -1 FROM old_rows', key);
    END IF;
    EXECUTE format('SELECT array_agg(k ORDER BY k), array_agg(n ORDER BY k)
        FROM (SELECT k, sum(n) AS n FROM (%s) c GROUP BY k HAVING sum(n) <> 0) d', changes) INTO ks, ns;
    IF ks IS NULL THEN
        RETURN NULL; -- no net change (an update of other columns)
    END IF;
    EXECUTE format('SELECT 1 FROM %I WHERE id = ANY ($1) ORDER BY id FOR NO KEY UPDATE', target) USING ks;
    EXECUTE format('UPDATE %1$I t SET %2$I = t.%2$I + d.n FROM unnest($1::bigint[], $2::bigint[]) AS d(k, n)
        WHERE t.id = d.k', target, col) USING ks, ns;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER team_members_count_ins AFTER INSERT ON team_members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('teams', 'team_id', 'member_count');
CREATE TRIGGER team_members_count_del AFTER DELETE ON team_members
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('teams', 'team_id', 'member_count');
CREATE TRIGGER team_members_count_upd AFTER UPDATE ON team_members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('teams', 'team_id', 'member_count');
CREATE TRIGGER grants_count_ins AFTER INSERT ON grants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('teams', 'team_id', 'grant_count');
CREATE TRIGGER grants_count_del AFTER DELETE ON grants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('teams', 'team_id', 'grant_count');
CREATE TRIGGER grants_count_upd AFTER UPDATE ON grants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('teams', 'team_id', 'grant_count');
CREATE TRIGGER memberships_count_ins AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'member_count');
CREATE TRIGGER memberships_count_del AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'member_count');
CREATE TRIGGER memberships_count_upd AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'member_count');
CREATE TRIGGER teams_count_ins AFTER INSERT ON teams
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'team_count');
CREATE TRIGGER teams_count_del AFTER DELETE ON teams
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'team_count');
CREATE TRIGGER teams_count_upd AFTER UPDATE ON teams
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'team_count');
CREATE TRIGGER agents_count_ins AFTER INSERT ON agents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'agent_count');
CREATE TRIGGER agents_count_del AFTER DELETE ON agents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'agent_count');
CREATE TRIGGER agents_count_upd AFTER UPDATE ON agents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_count('orgs', 'org_id', 'agent_count');

-- +goose Down
DROP TRIGGER agents_count_upd ON agents;
DROP TRIGGER agents_count_del ON agents;
DROP TRIGGER agents_count_ins ON agents;
DROP TRIGGER teams_count_upd ON teams;
DROP TRIGGER teams_count_del ON teams;
DROP TRIGGER teams_count_ins ON teams;
DROP TRIGGER memberships_count_upd ON memberships;
DROP TRIGGER memberships_count_del ON memberships;
DROP TRIGGER memberships_count_ins ON memberships;
DROP TRIGGER grants_count_upd ON grants;
DROP TRIGGER grants_count_del ON grants;
DROP TRIGGER grants_count_ins ON grants;
DROP TRIGGER team_members_count_upd ON team_members;
DROP TRIGGER team_members_count_del ON team_members;
DROP TRIGGER team_members_count_ins ON team_members;
DROP FUNCTION keep_count();
ALTER TABLE orgs DROP COLUMN member_count, DROP COLUMN team_count, DROP COLUMN agent_count;
ALTER TABLE teams DROP COLUMN member_count, DROP COLUMN grant_count;
DROP INDEX audit_events_org_time_idx;
DROP INDEX audit_events_org_email_idx;
DROP INDEX agents_org_name_idx;
DROP TABLE rate_limits;
