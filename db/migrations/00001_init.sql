-- +goose Up
-- Guildhall's first schema: accounts, sessions, orgs and memberships, invitations,
-- teams and grants, agents and their transfers, wallets, tokens, the audit log
-- and the dev outbox. Ids are bigserial everywhere; times are timestamptz (UTC);
-- money is bigint cents.

CREATE TABLE accounts (
    id                bigserial PRIMARY KEY,
    email             text NOT NULL CHECK (email = lower(email) AND email <> ''),
    name              text NOT NULL CHECK (name <> ''),
    password_hash     text NOT NULL DEFAULT '',
    email_verified_at timestamptz,
    personal_org_id   bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_active_at    timestamptz
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (email);

CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account_idx ON sessions (account_id);

CREATE TABLE email_verifications (
    token_hash text PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_verifications_account_idx ON email_verifications (account_id);

CREATE TABLE orgs (
    id                     bigserial PRIMARY KEY,
    kind                   text NOT NULL CHECK (kind IN ('personal', 'team')),
    slug                   text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,37}[a-z0-9])?$' AND length(slug) >= 2),
    display_name           text NOT NULL CHECK (display_name <> ''),
    description            text NOT NULL DEFAULT '',
    member_base_permission text NOT NULL DEFAULT 'none' CHECK (member_base_permission IN ('none', 'read', 'write')),
    plan                   text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'team')),
    limit_team_members     integer NOT NULL DEFAULT 5,
    limit_api_keys         integer NOT NULL DEFAULT 10,
    limit_agents           integer NOT NULL DEFAULT 10,
    limit_monthly_requests integer NOT NULL DEFAULT 50000,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orgs_slug_key ON orgs (slug);

ALTER TABLE accounts ADD CONSTRAINT accounts_personal_org_fk
    FOREIGN KEY (personal_org_id) REFERENCES orgs (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE memberships (
    org_id     bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'billing')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, account_id)
);
CREATE INDEX memberships_account_idx ON memberships (account_id);
CREATE INDEX memberships_org_role_idx ON memberships (org_id, role);

CREATE TABLE invitations (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email       text NOT NULL CHECK (email = lower(email) AND email <> ''),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'billing')),
    token_hash  text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    invited_by  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    accepted_by bigint REFERENCES accounts (id) ON DELETE SET NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
-- One pending invitation per email per org.
CREATE UNIQUE INDEX invitations_pending_key ON invitations (org_id, email) WHERE status = 'pending';
CREATE INDEX invitations_email_idx ON invitations (email) WHERE status = 'pending';

CREATE TABLE teams (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX teams_org_name_key ON teams (org_id, lower(name));

-- A team member must be a member of the team's org: the composite foreign key
-- to memberships removes them from every team when they leave the org.
CREATE TABLE team_members (
    team_id    bigint NOT NULL,
    org_id     bigint NOT NULL,
    account_id bigint NOT NULL,
    role       text NOT NULL CHECK (role IN ('maintainer', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, account_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, account_id) REFERENCES memberships (org_id, account_id) ON DELETE CASCADE
);
CREATE INDEX team_members_account_idx ON team_members (account_id, team_id);
CREATE INDEX team_members_org_account_idx ON team_members (org_id, account_id);

CREATE TABLE agents (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES orgs (id),
    created_by  bigint REFERENCES accounts (id) ON DELETE SET NULL,
    name        text NOT NULL CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    config      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_org_idx ON agents (org_id, id);
CREATE INDEX agents_creator_idx ON agents (org_id, created_by);

-- A grant gives a team a permission on one resource its org owns. Resources are
-- polymorphic (agent now; knowledge_base and skill later), so the store checks
-- ownership and removes grants when a resource is deleted or leaves the org.
CREATE TABLE grants (
    id            bigserial PRIMARY KEY,
    org_id        bigint NOT NULL,
    team_id       bigint NOT NULL,
    resource_kind text NOT NULL CHECK (resource_kind IN ('agent', 'knowledge_base', 'skill')),
    resource_id   bigint NOT NULL,
    permission    text NOT NULL DEFAULT 'write' CHECK (permission IN ('read', 'write', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    UNIQUE (team_id, resource_kind, resource_id)
);
CREATE INDEX grants_resource_idx ON grants (resource_kind, resource_id, team_id);

CREATE TABLE agent_transfers (
    id              bigserial PRIMARY KEY,
    agent_id        bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    from_org_id     bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    from_account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    to_email        text NOT NULL CHECK (to_email = lower(to_email)),
    token_hash      text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    accepted_by     bigint REFERENCES accounts (id) ON DELETE SET NULL,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agent_transfers_token_key ON agent_transfers (token_hash);
CREATE UNIQUE INDEX agent_transfers_pending_key ON agent_transfers (agent_id) WHERE status = 'pending';
CREATE INDEX agent_transfers_email_idx ON agent_transfers (to_email) WHERE status = 'pending';

CREATE TABLE wallets (
    org_id              bigint PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    balance_cents       bigint NOT NULL DEFAULT 0 CHECK (balance_cents >= 0),
    auto_top_up_enabled boolean NOT NULL DEFAULT false,
    threshold_cents     bigint NOT NULL DEFAULT 0 CHECK (threshold_cents >= 0),
    top_up_amount_cents bigint NOT NULL DEFAULT 0 CHECK (top_up_amount_cents >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

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

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   text NOT NULL,
    prefix       text NOT NULL,
    scopes       text[] NOT NULL DEFAULT '{}',
    org_id       bigint REFERENCES orgs (id) ON DELETE CASCADE,
    policy_id    bigint,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_account_idx ON api_tokens (account_id);

-- The audit log has no foreign keys on purpose: it outlives the orgs, accounts
-- and tokens it names, and keeps their labels as they were.
CREATE TABLE audit_events (
    id           bigserial PRIMARY KEY,
    org_id       bigint,
    actor_id     bigint,
    actor_email  text NOT NULL DEFAULT '',
    token_id     bigint,
    action       text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    target_kind  text NOT NULL DEFAULT '',
    target_id    text NOT NULL DEFAULT '',
    target_label text NOT NULL DEFAULT '',
    outcome      text NOT NULL CHECK (outcome IN ('success', 'denied', 'error')),
    ip           text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_org_idx ON audit_events (org_id, id DESC);
CREATE INDEX audit_events_org_action_idx ON audit_events (org_id, action, id DESC);
CREATE INDEX audit_events_org_actor_idx ON audit_events (org_id, actor_id, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    to_addr    text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE outbox, audit_events, api_tokens, ledger_entries, wallets, agent_transfers,
    grants, agents, team_members, teams, invitations, memberships, email_verifications,
    sessions CASCADE;
ALTER TABLE accounts DROP CONSTRAINT accounts_personal_org_fk;
DROP TABLE orgs, accounts CASCADE;
DROP FUNCTION audit_events_append_only();
