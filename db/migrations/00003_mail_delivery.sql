-- +goose Up
-- Mail is queued in the outbox and delivered by a worker, so a slow or down
-- SMTP server never fails (or half-finishes) the request that sent it.
-- 'kept' is dev mode without SMTP: the message only shows at /dev/outbox.
ALTER TABLE outbox
    ADD COLUMN status          text NOT NULL DEFAULT 'kept' CHECK (status IN ('kept', 'pending', 'sent', 'failed')),
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error      text NOT NULL DEFAULT '',
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN sent_at         timestamptz;
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_due_idx;
ALTER TABLE outbox DROP COLUMN status, DROP COLUMN attempts, DROP COLUMN last_error,
    DROP COLUMN next_attempt_at, DROP COLUMN sent_at;
