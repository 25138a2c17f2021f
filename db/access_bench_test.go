package db_test

import (
	"context"
	"testing"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// benchSeed fills one org with 10,000 agents, 500 teams and 2,000 members:
// 1 owner, 19 admins, 40 billing members and 1,940 members; each
// non-billing account is in 3 teams (every tenth a maintainer of its first),
// each team holds 40 grants spread over the agents at mixed levels, and each
// member created about 5 agents. All in set-based SQL, in about a second.
const benchSeed = `
WITH o AS (
	INSERT INTO orgs (kind, slug, display_name, limit_agents) VALUES ('team', 'bench', 'Bench', 1000000) RETURNING id
), acc AS (
	INSERT INTO accounts (email, name, email_verified_at)
	SELECT 'u' || i || '@bench.test', 'User ' || i, now() FROM generate_series(1, 2000) i
	RETURNING id
)
INSERT INTO memberships (org_id, account_id, role)
SELECT o.id, x.id, CASE WHEN x.rn = 1 THEN 'owner' WHEN x.rn <= 20 THEN 'admin' WHEN x.rn <= 60 THEN 'billing' ELSE 'member' END
  FROM o, (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM acc) x;

INSERT INTO teams (org_id, name)
SELECT (SELECT id FROM orgs WHERE slug = 'bench'), 'Team ' || i FROM generate_series(1, 500) i;

WITH m AS (
	SELECT m.org_id, m.account_id, row_number() OVER (ORDER BY m.account_id) AS rn
	  FROM memberships m JOIN orgs o ON o.id = m.org_id AND o.slug = 'bench' WHERE m.role <> 'billing'
), t AS (
	SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM teams WHERE org_id = (SELECT id FROM orgs WHERE slug = 'bench')
)
INSERT INTO team_members (team_id, org_id, account_id, role)
SELECT t.id, m.org_id, m.account_id, CASE WHEN k = 0 AND m.rn % 10 = 0 THEN 'maintainer' ELSE 'member' END
  FROM m CROSS JOIN generate_series(0, 2) k
  JOIN t ON t.idx = (m.rn * 7 + k * 167) % 500;

WITH m AS (
	SELECT m.org_id, m.account_id, row_number() OVER (ORDER BY m.account_id) - 1 AS idx
	  FROM memberships m JOIN orgs o ON o.id = m.org_id AND o.slug = 'bench'
)
INSERT INTO agents (org_id, created_by, name, description)
SELECT m.org_id, m.account_id, 'Agent ' || lpad(i::text, 5, '0'), 'benchmark agent'
  FROM generate_series(0, 9999) i JOIN m ON m.idx = i % 2000;

WITH a AS (
	SELECT id, org_id, row_number() OVER (ORDER BY id) - 1 AS idx FROM agents
	 WHERE org_id = (SELECT id FROM orgs WHERE slug = 'bench')
), t AS (
	SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM teams WHERE org_id = (SELECT id FROM orgs WHERE slug = 'bench')
)
INSERT INTO grants (org_id, team_id, resource_kind, resource_id, permission)
SELECT a.org_id, t.id, 'agent', a.id, (ARRAY['read', 'write', 'admin'])[1 + j % 3]
  FROM t CROSS JOIN generate_series(0, 39) j
  JOIN a ON a.idx = (t.idx * 20 + j * 251) % 10000;

ANALYZE;
`

// BenchmarkAccess measures the two permission queries of SPEC 3 on the
// seeded org: one agent's effective level for a member, and the first page of
// the agents a member (or an admin) can read.
//
//	go test ./db -run '^$' -bench Access -benchtime 200x
func BenchmarkAccess(b *testing.B) {
	ctx := context.Background()
	s := db.New(dbtest.New(b))
	if _, err := s.DB().ExecContext(ctx, benchSeed); err != nil {
		b.Fatalf("seed: %v", err)
	}
	var member, admin int64
	var agentIDs []int64
	if err := s.DB().Get(&member, `SELECT m.account_id FROM memberships m JOIN orgs o ON o.id = m.org_id AND o.slug = 'bench'
		WHERE m.role = 'member' ORDER BY m.account_id OFFSET 500 LIMIT 1`); err != nil {
		b.Fatal(err)
	}
	if err := s.DB().Get(&admin, `SELECT m.account_id FROM memberships m JOIN orgs o ON o.id = m.org_id AND o.slug = 'bench'
		WHERE m.role = 'admin' LIMIT 1`); err != nil {
		b.Fatal(err)
	}
	if err := s.DB().Select(&agentIDs, `SELECT id FROM agents ORDER BY id`); err != nil {
		b.Fatal(err)
	}
	var orgID int64
	if err := s.DB().Get(&orgID, `SELECT id FROM orgs WHERE slug = 'bench'`); err != nil {
		b.Fatal(err)
	}
	page, err := s.ListAgents(ctx, member, db.AgentFilter{OrgID: orgID, PerPage: 50})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("member %d reads %d of %d agents", member, page.Total, len(agentIDs))

	b.Run("single", func(b *testing.B) {
		levels := map[model.Permission]int{}
		for i := 0; b.Loop(); i++ {
			p, _, err := s.AgentAccess(ctx, member, agentIDs[(i*7919)%len(agentIDs)])
			if err != nil {
				b.Fatal(err)
			}
			levels[p]++
		}
	})
	b.Run("list-member", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ListAgents(ctx, member, db.AgentFilter{OrgID: orgID, PerPage: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("list-admin", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ListAgents(ctx, admin, db.AgentFilter{OrgID: orgID, PerPage: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
