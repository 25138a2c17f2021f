-- +goose Up
-- Metered API requests (SPEC 14). Each instance counts requests in memory and
-- flushes about once a second with additive upserts, so N instances add up.
-- agent_id 0 is "no agent named by the route". No foreign keys on purpose:
-- agents are deleted and moved while their history stays, ids are never
-- reused, and a flush must never fail because an org vanished meanwhile.
CREATE TABLE usage_daily (
    org_id   bigint NOT NULL,
    day      date   NOT NULL,
    agent_id bigint NOT NULL DEFAULT 0 CHECK (agent_id >= 0),
    requests bigint NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (org_id, day, agent_id)
);

-- The month's total per org, written in the same transaction as usage_daily:
-- the limit check reads one row instead of summing a month of agents.
CREATE TABLE usage_monthly (
    org_id   bigint NOT NULL,
    month    date   NOT NULL CHECK (extract(day FROM month) = 1),
    requests bigint NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (org_id, month)
);

-- Rollups written in the same transaction, so reports read few rows: the
-- org's total per day (the chart) and each agent's total per month (the
-- agent table of a month: 1,000 agents read 1,000 rows, not 30,000).
CREATE TABLE usage_org_daily (
    org_id   bigint NOT NULL,
    day      date   NOT NULL,
    requests bigint NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (org_id, day)
);

CREATE TABLE usage_agent_monthly (
    org_id   bigint NOT NULL,
    month    date   NOT NULL CHECK (extract(day FROM month) = 1),
    agent_id bigint NOT NULL CHECK (agent_id >= 0),
    requests bigint NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (org_id, month, agent_id)
);

-- +goose Down
DROP TABLE usage_agent_monthly, usage_org_daily, usage_monthly, usage_daily;
