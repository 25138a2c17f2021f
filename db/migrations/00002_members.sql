-- +goose Up
-- Links replaced by a resend: kept (hash only) so an old link can say "a newer
-- email replaced this one" instead of "unknown link".
CREATE TABLE invitation_previous_tokens (
    token_hash    text PRIMARY KEY,
    invitation_id bigint NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    replaced_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invitation_previous_tokens_invitation_idx ON invitation_previous_tokens (invitation_id);

-- The members page lists an org's pending invitations.
CREATE INDEX invitations_org_status_idx ON invitations (org_id, status, id);

-- +goose Down
DROP INDEX invitations_org_status_idx;
DROP TABLE invitation_previous_tokens;
