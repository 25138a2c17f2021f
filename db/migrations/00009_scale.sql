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

-- Teams keep their member and grant counts: the teams list showed them by
-- counting every team's rows on each view (200,000 grant rows for 500 teams).
-- Statement-level triggers with transition tables add and subtract per
-- statement, so a bulk insert updates each team once; adding a delta (never
-- recounting) stays exact under concurrent changes to one team.
ALTER TABLE teams
    ADD COLUMN member_count integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    ADD COLUMN grant_count  integer NOT NULL DEFAULT 0 CHECK (grant_count >= 0);
UPDATE teams t SET
    member_count = (SELECT count(*) FROM team_members x WHERE x.team_id = t.id),
    grant_count  = (SELECT count(*) FROM grants x WHERE x.team_id = t.id);

-- +goose StatementBegin
CREATE FUNCTION teams_count_rows() RETURNS trigger AS $$
DECLARE
    col text := TG_ARGV[0];
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('UPDATE teams t SET %1$I = t.%1$I - d.n
            FROM (SELECT team_id, count(*) AS n FROM old_rows GROUP BY team_id) d WHERE t.id = d.team_id', col);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('UPDATE teams t SET %1$I = t.%1$I + d.n
            FROM (SELECT team_id, count(*) AS n FROM new_rows GROUP BY team_id) d WHERE t.id = d.team_id', col);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER team_members_count_ins AFTER INSERT ON team_members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION teams_count_rows('member_count');
CREATE TRIGGER team_members_count_del AFTER DELETE ON team_members
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION teams_count_rows('member_count');
CREATE TRIGGER team_members_count_upd AFTER UPDATE ON team_members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION teams_count_rows('member_count');
CREATE TRIGGER grants_count_ins AFTER INSERT ON grants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION teams_count_rows('grant_count');
CREATE TRIGGER grants_count_del AFTER DELETE ON grants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION teams_count_rows('grant_count');
CREATE TRIGGER grants_count_upd AFTER UPDATE ON grants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION teams_count_rows('grant_count');

-- +goose Down
DROP TRIGGER grants_count_upd ON grants;
DROP TRIGGER grants_count_del ON grants;
DROP TRIGGER grants_count_ins ON grants;
DROP TRIGGER team_members_count_upd ON team_members;
DROP TRIGGER team_members_count_del ON team_members;
DROP TRIGGER team_members_count_ins ON team_members;
DROP FUNCTION teams_count_rows();
ALTER TABLE teams DROP COLUMN member_count, DROP COLUMN grant_count;
DROP INDEX audit_events_org_time_idx;
DROP INDEX audit_events_org_email_idx;
DROP INDEX agents_org_name_idx;
DROP TABLE rate_limits;
