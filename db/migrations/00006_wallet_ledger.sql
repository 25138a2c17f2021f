-- +goose Up
-- The money side (SPEC 8-10): a double-entry ledger, idempotency keys, spend
-- policies with UTC window counters, approvals, packages and entitlements.
--
-- Accounts of the ledger are text: 'wallet:<org id>' for an org's wallet (its
-- stored balance is wallets.balance_cents) and system accounts
-- 'funding:<provider>' and 'sales', which keep no balance row so they never
-- become a hot row. The ledger has no foreign keys to orgs on purpose: like
-- the audit log it outlives the orgs it names, and it is append-only.

CREATE TABLE ledger_transactions (
    id               bigserial PRIMARY KEY,
    org_id           bigint NOT NULL,  -- the wallet that started the movement
    kind             text NOT NULL CHECK (kind IN ('top_up', 'auto_top_up', 'purchase', 'refund', 'transfer')),
    actor_account_id bigint,
    token_id         bigint,
    package_id       bigint,
    -- The effect key: a client's Idempotency-Key prefixed by the operation, or
    -- 'crossing:<n>' for an auto top-up. Unique per wallet, so a key can never
    -- move money twice even if the answer cache were lost.
    effect_key       text,
    note             text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ledger_transactions_effect_key ON ledger_transactions (org_id, effect_key) WHERE effect_key IS NOT NULL;

CREATE TABLE postings (
    id                  bigserial PRIMARY KEY,
    txn_id              bigint NOT NULL REFERENCES ledger_transactions (id),
    account             text NOT NULL CHECK (account ~ '^(wallet:[0-9]+|funding:[a-z0-9_-]+|sales)$'),
    org_id              bigint,  -- set for wallet postings only
    kind                text NOT NULL CHECK (kind IN ('top_up', 'auto_top_up', 'purchase', 'refund', 'transfer_in', 'transfer_out')),
    amount_cents        bigint NOT NULL CHECK (amount_cents <> 0),
    balance_after_cents bigint CHECK (balance_after_cents >= 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((org_id IS NOT NULL) = (account LIKE 'wallet:%')),
    CHECK (org_id IS NULL OR account = 'wallet:' || org_id),
    CHECK ((org_id IS NOT NULL) = (balance_after_cents IS NOT NULL))
);
CREATE INDEX postings_txn_idx ON postings (txn_id);
CREATE INDEX postings_org_idx ON postings (org_id, id DESC) WHERE org_id IS NOT NULL;
CREATE INDEX postings_org_kind_idx ON postings (org_id, kind, id DESC) WHERE org_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_no_update BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Double entry: at commit, every transaction that gained postings sums to 0.
-- +goose StatementBegin
CREATE FUNCTION postings_balanced() RETURNS trigger AS $$
DECLARE
    total bigint;
    n     bigint;
BEGIN
    SELECT COALESCE(sum(amount_cents), 0), count(*) INTO total, n FROM postings WHERE txn_id = NEW.txn_id;
    IF total <> 0 OR n < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is not balanced: % postings sum to %', NEW.txn_id, n, total
            USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION postings_balanced();

-- Auto top-up: each crossing of the threshold has a number; the auto top-up
-- of crossing n carries effect key 'crossing:<n>', so it happens once.
ALTER TABLE wallets ADD COLUMN crossings bigint NOT NULL DEFAULT 0;

-- The old single-entry table becomes postings with a counter posting on a
-- system account (transfers of the old table were pairs of single entries;
-- each half is balanced against 'funding:migrated').
-- +goose StatementBegin
DO $$
DECLARE
    e record;
    t bigint;
BEGIN
    FOR e IN SELECT * FROM ledger_entries ORDER BY id LOOP
        INSERT INTO ledger_transactions (org_id, kind, actor_account_id, token_id, package_id, note, created_at)
        VALUES (e.org_id, CASE WHEN e.kind LIKE 'transfer_%' THEN 'transfer' ELSE e.kind END,
                e.account_id, e.token_id, e.package_id, e.note, e.created_at)
        RETURNING id INTO t;
        INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents, created_at)
        VALUES (t, 'wallet:' || e.org_id, e.org_id, e.kind, e.amount_cents, e.balance_after_cents, e.created_at),
               (t, CASE WHEN e.kind IN ('purchase', 'refund') THEN 'sales' ELSE 'funding:migrated' END,
                NULL, e.kind, -e.amount_cents, NULL, e.created_at);
    END LOOP;
END $$;
-- +goose StatementEnd
DROP TABLE ledger_entries;

-- The wallet-facing view of the ledger: one row per wallet posting, with the
-- transaction's actor and package. Read-only (a join view is not updatable).
CREATE VIEW ledger_entries AS
    SELECT p.id, p.org_id, p.kind, p.amount_cents, p.balance_after_cents,
           t.actor_account_id AS account_id, t.token_id, t.package_id, t.note, p.created_at, p.txn_id
    FROM postings p JOIN ledger_transactions t ON t.id = p.txn_id
    WHERE p.org_id IS NOT NULL;

-- Idempotency of top-up, transfer and buy (SPEC 8): per wallet, the key, a
-- hash of the request, and the first answer. Kept at least 30 days.
CREATE TABLE idempotency_keys (
    org_id       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key          text NOT NULL CHECK (key <> '' AND length(key) <= 255),
    request_hash text NOT NULL,
    status       integer NOT NULL DEFAULT 0,
    body         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Top-ups through a payment provider; a charge completes at once or later.
CREATE TABLE charges (
    id           bigserial PRIMARY KEY,
    org_id       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    provider     text NOT NULL CHECK (provider ~ '^[a-z0-9_-]+$'),
    provider_ref text NOT NULL DEFAULT '',
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    status       text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    account_id   bigint,
    token_id     bigint,
    txn_id       bigint REFERENCES ledger_transactions (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX charges_org_idx ON charges (org_id, id DESC);

CREATE TABLE spend_policies (
    id                           bigserial PRIMARY KEY,
    org_id                       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name                         text NOT NULL CHECK (name <> ''),
    max_per_purchase_cents       bigint CHECK (max_per_purchase_cents >= 0),
    daily_limit_cents            bigint CHECK (daily_limit_cents >= 0),
    monthly_limit_cents          bigint CHECK (monthly_limit_cents >= 0),
    require_approval_above_cents bigint CHECK (require_approval_above_cents >= 0),
    vendor_allowlist             text[] NOT NULL DEFAULT '{}',
    blocked_types                text[] NOT NULL DEFAULT '{}',
    active                       boolean NOT NULL DEFAULT true,
    is_default                   boolean NOT NULL DEFAULT false,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX spend_policies_org_name_key ON spend_policies (org_id, lower(name));
CREATE UNIQUE INDEX spend_policies_default_key ON spend_policies (org_id) WHERE is_default;

-- Spend under a policy per UTC day and month, updated in the debit's
-- transaction (no SUM over history on the hot path).
CREATE TABLE policy_spend (
    policy_id    bigint NOT NULL REFERENCES spend_policies (id) ON DELETE CASCADE,
    window_kind  text NOT NULL CHECK (window_kind IN ('day', 'month')),
    window_start date NOT NULL,
    spent_cents  bigint NOT NULL DEFAULT 0 CHECK (spent_cents >= 0),
    PRIMARY KEY (policy_id, window_kind, window_start)
);

CREATE TABLE packages (
    id           bigserial PRIMARY KEY,
    org_id       bigint NOT NULL REFERENCES orgs (id),
    publisher_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    slug         text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    name         text NOT NULL CHECK (name <> ''),
    type         text NOT NULL CHECK (type IN ('skill', 'mcp_server', 'agent_template', 'prompt', 'tool')),
    description  text NOT NULL DEFAULT '',
    price_cents  bigint NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    visibility   text NOT NULL CHECK (visibility IN ('public', 'org_only', 'private')),
    manifest     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX packages_slug_key ON packages (slug);
CREATE INDEX packages_org_idx ON packages (org_id, id);
CREATE INDEX packages_public_idx ON packages (type, id) WHERE visibility = 'public';

CREATE TABLE approvals (
    id           bigserial PRIMARY KEY,
    org_id       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    package_id   bigint NOT NULL REFERENCES packages (id),
    requested_by bigint REFERENCES accounts (id) ON DELETE SET NULL,
    token_id     bigint,
    policy_id    bigint REFERENCES spend_policies (id) ON DELETE SET NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    reason       text NOT NULL DEFAULT '',
    decided_by   bigint REFERENCES accounts (id) ON DELETE SET NULL,
    decided_at   timestamptz,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'rejected' OR reason <> '')
);
CREATE INDEX approvals_org_status_idx ON approvals (org_id, status, id DESC);
-- One pending approval per package per org.
CREATE UNIQUE INDEX approvals_pending_key ON approvals (org_id, package_id) WHERE status = 'pending';

CREATE TABLE purchases (
    id           bigserial PRIMARY KEY,
    org_id       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    package_id   bigint NOT NULL REFERENCES packages (id),
    account_id   bigint REFERENCES accounts (id) ON DELETE SET NULL,
    token_id     bigint,
    policy_id    bigint REFERENCES spend_policies (id) ON DELETE SET NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    txn_id       bigint REFERENCES ledger_transactions (id),
    approval_id  bigint REFERENCES approvals (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX purchases_org_idx ON purchases (org_id, id DESC);

CREATE TABLE entitlements (
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    package_id  bigint NOT NULL REFERENCES packages (id),
    purchase_id bigint NOT NULL REFERENCES purchases (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, package_id)
);

-- A token's spend policy is a real policy now.
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_policy_fk
    FOREIGN KEY (policy_id) REFERENCES spend_policies (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_policy_fk;
DROP TABLE entitlements, purchases, approvals, packages, policy_spend, spend_policies,
    charges, idempotency_keys;
DROP VIEW ledger_entries;
CREATE TABLE ledger_entries (
    id                  bigserial PRIMARY KEY,
    org_id              bigint NOT NULL REFERENCES wallets (org_id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('top_up', 'auto_top_up', 'purchase', 'refund', 'transfer_in', 'transfer_out')),
    amount_cents        bigint NOT NULL CHECK (amount_cents <> 0),
    balance_after_cents bigint NOT NULL CHECK (balance_after_cents >= 0),
    account_id          bigint REFERENCES accounts (id) ON DELETE SET NULL,
    token_id            bigint,
    package_id          bigint,
    note                text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_org_idx ON ledger_entries (org_id, id DESC);
INSERT INTO ledger_entries (org_id, kind, amount_cents, balance_after_cents, account_id, token_id, package_id, note, created_at)
    SELECT p.org_id, p.kind, p.amount_cents, p.balance_after_cents, t.actor_account_id, t.token_id, t.package_id, t.note, p.created_at
    FROM postings p JOIN ledger_transactions t ON t.id = p.txn_id
    WHERE p.org_id IS NOT NULL AND EXISTS (SELECT 1 FROM wallets w WHERE w.org_id = p.org_id)
    ORDER BY p.id;
ALTER TABLE wallets DROP COLUMN crossings;
DROP TABLE postings, ledger_transactions;
DROP FUNCTION postings_balanced();
DROP FUNCTION ledger_append_only();
