-- +goose Up
-- Every signed-in page starts from db.BrowserSession: the account, its
-- banner flags and its workspaces with their SSO gate. Building that costs
-- a plan of some twenty nodes in PostgreSQL on every page (about a third of
-- a small page's CPU), yet it changes only when one of the rows below does.
-- So a server keeps it per account and, on each request, reads only the
-- session row, the account's session version and the session_epoch (index
-- probes). The versions change in the transaction of the change they
-- follow, so a server never serves a kept copy after that change commits,
-- on whichever server it was made; the copy and its versions are read in
-- one statement, so they always match.
--
-- An account's version (session_versions) moves with its own row (name, email,
-- password, last activity), its memberships (role, joining, leaving), its
-- two-factor methods, and the invitations and agent transfers sent to its
-- email (the banner flags). Org-wide facts every member sees (an org's name,
-- plan, limits, SSO connection and domains) move session_epoch instead of
-- every member's row: those are rare admin changes, and an org of 10,000
-- members would otherwise rewrite 10,000 accounts.
-- The versions live in their own table, which no foreign key points at: a
-- membership insert takes a key-share lock on its account row, and two
-- transactions that both hold one and then update that row deadlock
-- (TestTransferPersonalCreditsIsAllOrNothingUnderConcurrency did, when the
-- version was a column of accounts). An account with no row is at 0.
CREATE TABLE session_versions (
    account_id bigint PRIMARY KEY,
    v          bigint NOT NULL
);

CREATE TABLE session_epoch (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    v   bigint NOT NULL
);
INSERT INTO session_epoch (one, v) VALUES (true, 0);

-- bump_session_version(column, 'id' | 'email'): the accounts named by the
-- changed rows' column (an account id, or an email) move on, in id order so
-- concurrent changes take the version rows in one order.
-- +goose StatementBegin
CREATE FUNCTION bump_session_version() RETURNS trigger AS $$
DECLARE
    col text := TG_ARGV[0];
    byc text := TG_ARGV[1];
    src text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        src := format('SELECT %I FROM new_rows', col);
    ELSIF TG_OP = 'DELETE' THEN
        src := format('SELECT %I FROM old_rows', col);
    ELSE
        src := format('SELECT %1$I FROM new_rows UNION SELECT %1$I FROM old_rows', col);
    END IF;
    EXECUTE format('INSERT INTO session_versions AS sv (account_id, v)
        SELECT a.id, 1 FROM accounts a WHERE a.%I IN (%s) ORDER BY a.id
        ON CONFLICT (account_id) DO UPDATE SET v = sv.v + 1', byc, src);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER accounts_session_upd AFTER UPDATE ON accounts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('id', 'id');

CREATE TRIGGER memberships_session_ins AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');
CREATE TRIGGER memberships_session_del AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');
CREATE TRIGGER memberships_session_upd AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');

CREATE TRIGGER two_factor_totp_session_ins AFTER INSERT ON two_factor_totp
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');
CREATE TRIGGER two_factor_totp_session_del AFTER DELETE ON two_factor_totp
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');
CREATE TRIGGER two_factor_totp_session_upd AFTER UPDATE ON two_factor_totp
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');

CREATE TRIGGER webauthn_credentials_session_ins AFTER INSERT ON webauthn_credentials
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');
CREATE TRIGGER webauthn_credentials_session_del AFTER DELETE ON webauthn_credentials
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('account_id', 'id');

CREATE TRIGGER invitations_session_ins AFTER INSERT ON invitations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('email', 'email');
CREATE TRIGGER invitations_session_del AFTER DELETE ON invitations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('email', 'email');
CREATE TRIGGER invitations_session_upd AFTER UPDATE ON invitations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('email', 'email');

CREATE TRIGGER agent_transfers_session_ins AFTER INSERT ON agent_transfers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('to_email', 'email');
CREATE TRIGGER agent_transfers_session_del AFTER DELETE ON agent_transfers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('to_email', 'email');
CREATE TRIGGER agent_transfers_session_upd AFTER UPDATE ON agent_transfers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_session_version('to_email', 'email');

-- +goose StatementBegin
CREATE FUNCTION bump_session_epoch() RETURNS trigger AS $$
BEGIN
    UPDATE session_epoch SET v = v + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- The org columns a workspace shows (db.orgCols); the counters kept by
-- keep_count are not among them, so members joining do not move the epoch.
-- A deleted org takes its memberships with it, which move its members.
CREATE TRIGGER orgs_session_epoch_upd AFTER UPDATE ON orgs FOR EACH ROW
    WHEN ((OLD.kind, OLD.slug, OLD.display_name, OLD.description, OLD.member_base_permission, OLD.plan,
           OLD.limit_team_members, OLD.limit_api_keys, OLD.limit_agents, OLD.limit_monthly_requests,
           OLD.created_at, OLD.updated_at, OLD.require_two_factor)
          IS DISTINCT FROM
          (NEW.kind, NEW.slug, NEW.display_name, NEW.description, NEW.member_base_permission, NEW.plan,
           NEW.limit_team_members, NEW.limit_api_keys, NEW.limit_agents, NEW.limit_monthly_requests,
           NEW.created_at, NEW.updated_at, NEW.require_two_factor))
    EXECUTE FUNCTION bump_session_epoch();
-- Enforcement decides the SSO gate; the other columns (secrets, the last
-- test) do not show in a session.
CREATE TRIGGER sso_connections_session_epoch AFTER INSERT OR DELETE OR UPDATE OF org_id, enabled, enforced ON sso_connections
    FOR EACH STATEMENT EXECUTE FUNCTION bump_session_epoch();
-- A verified domain decides the SSO gate and the auto-join banner.
CREATE TRIGGER sso_domains_session_epoch AFTER INSERT OR DELETE OR UPDATE OF org_id, domain, verified_at, auto_join ON sso_domains
    FOR EACH STATEMENT EXECUTE FUNCTION bump_session_epoch();

-- +goose Down
DROP TRIGGER sso_domains_session_epoch ON sso_domains;
DROP TRIGGER sso_connections_session_epoch ON sso_connections;
DROP TRIGGER orgs_session_epoch_upd ON orgs;
DROP FUNCTION bump_session_epoch();
DROP TRIGGER agent_transfers_session_upd ON agent_transfers;
DROP TRIGGER agent_transfers_session_del ON agent_transfers;
DROP TRIGGER agent_transfers_session_ins ON agent_transfers;
DROP TRIGGER invitations_session_upd ON invitations;
DROP TRIGGER invitations_session_del ON invitations;
DROP TRIGGER invitations_session_ins ON invitations;
DROP TRIGGER webauthn_credentials_session_del ON webauthn_credentials;
DROP TRIGGER webauthn_credentials_session_ins ON webauthn_credentials;
DROP TRIGGER two_factor_totp_session_upd ON two_factor_totp;
DROP TRIGGER two_factor_totp_session_del ON two_factor_totp;
DROP TRIGGER two_factor_totp_session_ins ON two_factor_totp;
DROP TRIGGER memberships_session_upd ON memberships;
DROP TRIGGER memberships_session_del ON memberships;
DROP TRIGGER memberships_session_ins ON memberships;
DROP TRIGGER accounts_session_upd ON accounts;
DROP FUNCTION bump_session_version();
DROP TABLE session_epoch;
DROP TABLE session_versions;
