-- +goose Up
-- A page of an org's agents typed by number (the agents page's ?page=,
-- the API's page=) skips every agent before it in name order. The index
-- gave the order but not the name (its key holds lower(name)), so each
-- skipped agent was read from the table: 20 ms for page 1,000 of the
-- large org's 100,000 agents through the API, 27-44 ms for the resources
-- picker's. With the name carried in the index, the skipped entries are
-- counted in the index alone (an index-only scan, where the table is
-- vacuumed), and only the page's agents are read.
DROP INDEX agents_org_name_idx;
CREATE INDEX agents_org_name_idx ON agents (org_id, lower(name), id) INCLUDE (name);

-- +goose Down
DROP INDEX agents_org_name_idx;
CREATE INDEX agents_org_name_idx ON agents (org_id, lower(name), id);
