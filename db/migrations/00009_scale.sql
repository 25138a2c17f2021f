-- +goose Up
-- Rate-limit counters shared by every server on this database, so N instances
-- do not multiply a brute-force budget. One row per key and fixed window;
-- rows of past windows are pruned by the limiter.
CREATE TABLE rate_limits (
    key          text NOT NULL CHECK (key <> ''),
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- +goose Down
DROP TABLE rate_limits;
