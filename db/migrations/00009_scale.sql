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

-- +goose Down
DROP INDEX audit_events_org_email_idx;
DROP INDEX agents_org_name_idx;
DROP TABLE rate_limits;
