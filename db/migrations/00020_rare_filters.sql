-- +goose Up
-- Two filters that a person types and the load harness did not: each
-- walked the org's newest rows until a page matched, and a value that
-- matches few rows read nearly all of them.
--
-- The audit log's refusals and errors (outcome denied or error): about one
-- event in forty is refused and none failed in the large data set, so
-- outcome=error read all 1,000,000 events (450 ms). Only those outcomes are
-- indexed (the query writes them as literals, so the plan can use this
-- partial index); success, nearly every event, is walked from the newest.
CREATE INDEX audit_events_org_unsuccessful_idx ON audit_events (org_id, outcome, id DESC)
    WHERE outcome <> 'success';

-- The wallet history of one member: the member's transactions, newest
-- first, then their postings in the wallet (a transfer in was made in
-- another org, so the transaction's org is not the wallet's). A member
-- behind ten of 100,000 entries took 40 ms by the walk.
CREATE INDEX ledger_transactions_actor_idx ON ledger_transactions (actor_account_id, id DESC)
    WHERE actor_account_id IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS audit_events_org_unsuccessful_idx;
DROP INDEX IF EXISTS ledger_transactions_actor_idx;
