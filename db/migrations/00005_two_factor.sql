-- +goose Up
-- Two-factor sign-in (TOTP and passkeys), recovery codes, an org's
-- requirement, and a handle for each session so it can be listed and ended.

-- One TOTP authenticator per account. The secret is sealed with AES-GCM under
-- a key derived from the server secret, so a database copy alone cannot mint
-- codes. confirmed_at is NULL while enrolling. last_step is the 30-second step
-- of the last accepted code: a code is accepted once, never replayed.
CREATE TABLE two_factor_totp (
    account_id   bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret_enc   bytea NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One-time recovery codes, stored as SHA-256 hashes (they are random, long
-- enough that a fast hash is safe).
CREATE TABLE two_factor_recovery_codes (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  text NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX two_factor_recovery_codes_key ON two_factor_recovery_codes (account_id, code_hash);

-- WebAuthn credentials (passkeys) as a second factor.
CREATE TABLE webauthn_credentials (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name <> ''),
    credential_id bytea NOT NULL,
    data          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE UNIQUE INDEX webauthn_credentials_key ON webauthn_credentials (credential_id);
CREATE INDEX webauthn_credentials_account_idx ON webauthn_credentials (account_id);

ALTER TABLE orgs ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;

-- Sessions are keyed by the hash of their secret; a separate number names a
-- session on the profile page without showing anything derived from it.
ALTER TABLE sessions ADD COLUMN id bigserial;
CREATE UNIQUE INDEX sessions_id_key ON sessions (id);

-- +goose Down
DROP INDEX sessions_id_key;
ALTER TABLE sessions DROP COLUMN id;
ALTER TABLE orgs DROP COLUMN require_two_factor;
DROP TABLE webauthn_credentials, two_factor_recovery_codes, two_factor_totp;
