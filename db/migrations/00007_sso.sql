-- +goose Up
-- Single sign-on (SPEC 13): one OIDC or SAML connection per team org, setup
-- links for an IT admin without an account, verified domains, the flows in
-- flight (in the database, so any instance can finish them), the SAML
-- assertion ids already used (replays are refused on every instance), and how
-- each browser session was authenticated.

CREATE TABLE sso_connections (
    org_id             bigint PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    protocol           text NOT NULL CHECK (protocol IN ('oidc', 'saml')),
    issuer             text NOT NULL DEFAULT '',
    client_id          text NOT NULL DEFAULT '',
    -- AES-GCM (nonce || ciphertext) under a key derived from GUILDHALL_SECRET.
    client_secret_enc  bytea,
    metadata_xml       text NOT NULL DEFAULT '',
    metadata_url       text NOT NULL DEFAULT '',
    enabled            boolean NOT NULL DEFAULT true,
    enforced           boolean NOT NULL DEFAULT false,
    idp_initiated      boolean NOT NULL DEFAULT false,
    -- config_hash names the current settings; a test sign-in stores it in
    -- tested_config_hash, and enforcement needs the two to match.
    config_hash        text NOT NULL,
    tested_config_hash text NOT NULL DEFAULT '',
    tested_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT enforced OR (enabled AND tested_config_hash = config_hash))
);

CREATE TABLE sso_setup_links (
    id                 bigserial PRIMARY KEY,
    org_id             bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    token_hash         text NOT NULL,
    created_by         bigint REFERENCES accounts (id) ON DELETE SET NULL,
    created_by_email   text NOT NULL,
    expires_at         timestamptz NOT NULL,
    -- Opening the link consumes it and binds a setup session to one browser.
    used_at            timestamptz,
    session_hash       text,
    revoked_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sso_setup_links_token_key ON sso_setup_links (token_hash);
CREATE UNIQUE INDEX sso_setup_links_session_key ON sso_setup_links (session_hash);
CREATE INDEX sso_setup_links_org_idx ON sso_setup_links (org_id, id);

CREATE TABLE sso_domains (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    domain      text NOT NULL CHECK (domain = lower(domain) AND domain <> ''),
    txt_token   text NOT NULL,
    verified_at timestamptz,
    auto_join   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sso_domains_org_domain_key ON sso_domains (org_id, domain);
-- A domain is verified for one org only.
CREATE UNIQUE INDEX sso_domains_verified_key ON sso_domains (domain) WHERE verified_at IS NOT NULL;

-- Flows in flight: OIDC state/nonce/PKCE verifier or the SAML request id.
-- purpose: signin (a person signing in), test (the owner's test sign-in),
-- setup (a test from a setup session).
CREATE TABLE sso_flows (
    state_hash     text PRIMARY KEY,
    org_id         bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    purpose        text NOT NULL CHECK (purpose IN ('signin', 'test', 'setup')),
    nonce          text NOT NULL DEFAULT '',
    pkce_verifier  text NOT NULL DEFAULT '',
    saml_request_id text NOT NULL DEFAULT '',
    account_id     bigint REFERENCES accounts (id) ON DELETE CASCADE,
    setup_link_id  bigint REFERENCES sso_setup_links (id) ON DELETE CASCADE,
    config_hash    text NOT NULL,
    next_path      text NOT NULL DEFAULT '',
    -- A SAML response is verified at the ACS (a cross-site POST without the
    -- browser's cookies) and finished on the next GET, which has them.
    identity       jsonb,
    idp_initiated  boolean NOT NULL DEFAULT false,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_flows_expires_idx ON sso_flows (expires_at);

CREATE TABLE saml_assertions_seen (
    assertion_id text PRIMARY KEY,
    org_id       bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX saml_assertions_seen_expires_idx ON saml_assertions_seen (expires_at);

-- Password sessions lose access to an org that enforces SSO; an SSO session
-- names the org whose IdP signed it in.
ALTER TABLE sessions
    ADD COLUMN auth_method text NOT NULL DEFAULT 'password' CHECK (auth_method IN ('password', 'sso')),
    ADD COLUMN sso_org_id  bigint REFERENCES orgs (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE sessions DROP COLUMN sso_org_id, DROP COLUMN auth_method;
DROP TABLE saml_assertions_seen, sso_flows, sso_domains, sso_setup_links, sso_connections;
