-- +goose Up
-- Org-scoped reads are cached statements with generic plans, which estimate
-- "org_id = $1" as an average org: rows / n_distinct(org_id). When one org
-- holds nearly every row (the large data set; or an established org next to
-- new ones, before statistics catch up), that average is the big org, and
-- the plan for "newest 25 of this org" walks the primary key backwards and
-- filters by org: a small org's audit log read all 1,000,000 events
-- (140 ms a page, 4 s in EXPLAIN ANALYZE), its wallet history all 200,000
-- postings (20 ms). Telling the planner that orgs are many (a distinct org
-- per 100 rows) makes the generic estimate small, so the org's own index
-- serves every org, big or small; plans for a literal org still use the
-- most-common-value statistics, which ANALYZE keeps as before. Memberships
-- and teams keep their own estimate: their keys and list indexes lead with
-- the org, so there is no walk to avoid, and the settings page's count of
-- members without a second factor hashed all 10,000 members of the big org
-- (1.8 ms) when told an org has a hundred.
ALTER TABLE audit_events        ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE agents              ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE grants              ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE postings            ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE ledger_transactions ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE packages            ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE invitations         ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE approvals           ALTER COLUMN org_id SET (n_distinct = -0.01);
ALTER TABLE purchases           ALTER COLUMN org_id SET (n_distinct = -0.01);
ANALYZE audit_events, agents, grants, postings, ledger_transactions, packages, invitations, approvals, purchases;

-- +goose Down
ALTER TABLE audit_events        ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE agents              ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE grants              ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE postings            ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE ledger_transactions ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE packages            ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE invitations         ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE approvals           ALTER COLUMN org_id RESET (n_distinct);
ALTER TABLE purchases           ALTER COLUMN org_id RESET (n_distinct);
