-- +goose Up
-- A verification row can now confirm a change of address: the link goes to
-- the new address, and only using it moves the account there. A plain
-- verification of an old address can then never switch the account back.
ALTER TABLE email_verifications
    ADD COLUMN change boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE email_verifications DROP COLUMN change;
