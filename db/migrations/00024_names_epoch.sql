-- +goose Up
-- The wallet page's history shows who bought and what: an account's email
-- and a package's name, looked up for each of its 25 rows (half of the
-- history's statement). The rows themselves never change (the ledger is
-- append-only), so a server keeps the first page of an org's history
-- (db/ledgerkeep.go) while two things hold: the org's newest posting (its
-- wallet row lock orders its postings, so a new one always has a higher
-- id) and names_epoch, which moves in the transaction of every change to a
-- name such a page shows. Those changes are rare (an email change, a
-- package renamed), so one counter for all of them is enough, as
-- session_epoch is for org-wide facts (00016).
CREATE TABLE names_epoch (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    v   bigint NOT NULL
);
INSERT INTO names_epoch (one, v) VALUES (true, 0);

-- +goose StatementBegin
CREATE FUNCTION bump_names_epoch() RETURNS trigger AS $$
BEGIN
    UPDATE names_epoch SET v = v + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER accounts_names_epoch_upd AFTER UPDATE OF email ON accounts FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email) EXECUTE FUNCTION bump_names_epoch();
CREATE TRIGGER accounts_names_epoch_del AFTER DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_names_epoch();
CREATE TRIGGER packages_names_epoch_upd AFTER UPDATE OF name ON packages FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION bump_names_epoch();
CREATE TRIGGER packages_names_epoch_del AFTER DELETE ON packages
    FOR EACH STATEMENT EXECUTE FUNCTION bump_names_epoch();

-- +goose Down
DROP TRIGGER packages_names_epoch_del ON packages;
DROP TRIGGER packages_names_epoch_upd ON packages;
DROP TRIGGER accounts_names_epoch_del ON accounts;
DROP TRIGGER accounts_names_epoch_upd ON accounts;
DROP FUNCTION bump_names_epoch();
DROP TABLE names_epoch;
