-- +goose Up
-- The pickers (add a member to a team, grant an agent, the access
-- explainer) and the audit log's actor filter match part of a name or
-- address. Walked in name order, a part
-- that few names contain read the whole org first: 74 ms over 100,000
-- agents, 9-15 ms over 10,000 members. Trigram indexes (pg_trgm) find the
-- few at once; a common part is still walked in name order, which fills the
-- 20 options soonest. The pickers are planned per call, so PostgreSQL takes
-- whichever fits the part typed.
--
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the
-- database's owner may create it. Where it cannot be created, the pickers
-- give the same answers by walking, and this says so once.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR undefined_object THEN
    RAISE NOTICE 'pg_trgm is not available (%): pickers will walk names to match a part', SQLERRM;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS agents_name_trgm_idx ON agents USING gin (lower(name) gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS accounts_name_trgm_idx ON accounts USING gin (lower(name) gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS accounts_email_trgm_idx ON accounts USING gin (lower(email) gin_trgm_ops);
        -- the audit filter's part of an address (00018)
        CREATE INDEX IF NOT EXISTS audit_actors_email_trgm_idx ON audit_actors USING gin (email_lower gin_trgm_ops);
    END IF;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX IF EXISTS agents_name_trgm_idx;
DROP INDEX IF EXISTS accounts_name_trgm_idx;
DROP INDEX IF EXISTS accounts_email_trgm_idx;
DROP INDEX IF EXISTS audit_actors_email_trgm_idx;
