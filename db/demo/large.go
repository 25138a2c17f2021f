package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"guildhall/db"
	"guildhall/db/model"
)

// Size is how much a generated org holds.
type Size struct {
	Members int // including the owner and the reader
	Teams   int // at least 3: the big team, the readers' team, the rest
	Agents  int
	Grants  int
	Audit   int
	// BigTeamGrants go to one team ("Big grants"); ReaderAgents to the
	// team of the reader, a plain member who sees only those agents.
	BigTeamGrants int
	ReaderAgents  int
	// Ledger is the number of wallet entries (ledger_entries) of the org's
	// wallet: top-ups and purchases of LedgerPackages generated packages.
	Ledger int
}

// LedgerPackages is how many packages the generated purchases spread over.
const LedgerPackages = 50

// LargeSize is issue 12's data set.
var LargeSize = Size{Members: 10_000, Teams: 500, Agents: 100_000, Grants: 200_000, Audit: 1_000_000, BigTeamGrants: 2_000, ReaderAgents: 20,
	Ledger: 100_000}

// Generated names a generated org and the people and things the load
// harness and the query-budget tests look at.
type Generated struct {
	OrgID      int64
	Slug       string
	Owner      model.Account
	Reader     model.Account
	BigTeamID  int64
	ReaderTeam int64
	AgentID    int64 // an agent the reader can see
	MemberID   int64 // a plain bulk member
}

// LargeOwner and LargeReader sign in to the large data set (password Password).
const (
	LargeOwner  = "owner@large.example.com"
	LargeReader = "reader@large.example.com"
)

// LoadLarge generates the large data set (one org, see LargeSize) unless its
// owner exists already, and reports whether it did.
func LoadLarge(ctx context.Context, s *db.Store, logf func(string, ...any)) (bool, error) {
	if _, err := s.AccountByEmail(ctx, LargeOwner); err == nil {
		return false, nil
	}
	t0 := time.Now()
	_, err := Generate(ctx, s, "large", LargeOwner, LargeReader, LargeSize, logf)
	if err == nil && logf != nil {
		logf("large data set generated in %v", time.Since(t0).Round(time.Millisecond))
	}
	return err == nil, err
}

// Generate builds an org at slug of size: the owner, the reader and the org
// through the store's own calls (so they follow every rule), then everything
// else with set-based INSERT ... SELECT statements (no row-at-a-time round
// trips), in one transaction. Bulk members get no password and cannot sign in.
// The wallet's history is written the same way (see ledger), balanced and
// consistent with the stored balance as CheckLedger demands.
func Generate(ctx context.Context, s *db.Store, slug, ownerEmail, readerEmail string, size Size, logf func(string, ...any)) (Generated, error) {
	var g Generated
	if size.Teams < 3 || size.Members < 2 {
		return g, fmt.Errorf("generate: need at least 3 teams and 2 members")
	}
	step := func(what string, t time.Time) {
		if logf != nil {
			logf("  %-28s %v", what, time.Since(t).Round(time.Millisecond))
		}
	}
	var err error
	if g.Owner, err = s.Signup(ctx, model.Actor{IP: "127.0.0.1"}, db.SignupInput{Email: ownerEmail, Name: "Olwen Owner", Password: Password, VerifiedEmail: true}); err != nil {
		return g, fmt.Errorf("owner: %w", err)
	}
	if g.Reader, err = s.Signup(ctx, model.Actor{IP: "127.0.0.1"}, db.SignupInput{Email: readerEmail, Name: "Rhys Reader", Password: Password, VerifiedEmail: true}); err != nil {
		return g, fmt.Errorf("reader: %w", err)
	}
	ws, err := s.CreateOrg(ctx, actor(g.Owner), db.CreateOrgInput{DisplayName: "Large " + slug, Slug: slug, Description: "Generated: issue 12's large data set."})
	if err != nil {
		return g, err
	}
	g.OrgID, g.Slug = ws.ID, ws.Slug
	domain := slug + ".example.com"
	org := g.OrgID

	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		return g, err
	}
	defer tx.Rollback() //nolint:errcheck // after commit this is a no-op
	run := func(what, q string, args ...any) error {
		t := time.Now()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("generate %s: %w", what, err)
		}
		step(what, t)
		return nil
	}
	// Plan limits that fit the data, as a paying customer of this size has
	// (and requests enough for load runs: a run sends about 100,000).
	if err := run("org limits", `UPDATE orgs SET plan = 'team', limit_team_members = 1000000, limit_agents = 1000000,
		limit_api_keys = 1000, limit_monthly_requests = 2000000000 WHERE id = $1`, org); err != nil {
		return g, err
	}
	if err := run("reader membership", `INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, org, g.Reader.ID); err != nil {
		return g, err
	}
	// Members: every 50th an admin, every 97th billing, the rest members.
	if err := run("members", `
		WITH a AS (
			INSERT INTO accounts (email, name, email_verified_at, created_at)
			SELECT format('m%s@%s', lpad(i::text, 6, '0'), $3::text), format('Member %s', i), now(), now() - i * interval '1 minute'
			FROM generate_series(1, $2::int) i
			RETURNING id)
		INSERT INTO memberships (org_id, account_id, role, created_at)
		SELECT $1, id, CASE WHEN id % 50 = 0 THEN 'admin' WHEN id % 97 = 0 THEN 'billing' ELSE 'member' END, now()
		FROM a`, org, size.Members-2, domain); err != nil {
		return g, err
	}
	if err := run("teams", `
		INSERT INTO teams (org_id, name, description)
		SELECT $1, CASE i WHEN 0 THEN 'Big grants' WHEN 1 THEN 'Readers' ELSE format('Team %s', lpad(i::text, 4, '0')) END,
			'Generated team.'
		FROM generate_series(0, $2::int - 1) i`, org, size.Teams); err != nil {
		return g, err
	}
	k := size.Teams - 2 // regular teams
	// Each bulk member in one regular team (the first of each a maintainer);
	// the reader in Readers; a few members in Big grants.
	if err := run("team members", `
		WITH t AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM teams WHERE org_id = $1),
		m AS (SELECT account_id, row_number() OVER (ORDER BY account_id) - 1 AS i FROM memberships
			WHERE org_id = $1 AND role <> 'owner' AND account_id <> $2)
		INSERT INTO team_members (team_id, org_id, account_id, role)
		SELECT t.id, $1, m.account_id, CASE WHEN m.i < $3 THEN 'maintainer' ELSE 'member' END
		FROM m JOIN t ON t.k = 2 + m.i % $3
		UNION ALL
		SELECT t.id, $1, $2, 'member' FROM t WHERE t.k = 1
		UNION ALL
		SELECT t.id, $1, m.account_id, 'member' FROM t JOIN m ON m.i < 20 WHERE t.k = 0`, org, g.Reader.ID, k); err != nil {
		return g, err
	}
	if err := run("agents", `
		INSERT INTO agents (org_id, created_by, name, description, config, created_at, updated_at)
		SELECT $1, $2, format('Agent %s', lpad(i::text, 6, '0')), 'Generated agent.', '', now() - i * interval '1 minute', now() - i * interval '1 minute'
		FROM generate_series(1, $3::int) i`, org, g.Owner.ID, size.Agents); err != nil {
		return g, err
	}
	big := min(size.BigTeamGrants, size.Agents)
	readers := min(size.ReaderAgents, size.Agents)
	rest := max(size.Grants-big-readers, 0)
	passes := 0
	if size.Agents > 0 {
		passes = min(k, (rest+size.Agents-1)/size.Agents)
	}
	// Grants: the big team and the readers' team on the first agents; then
	// pass p grants agent j to regular team (j + p) mod k, until rest are made
	// (at most one grant per team and agent).
	if err := run("grants", `
		WITH t AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM teams WHERE org_id = $1),
		a AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS j FROM agents WHERE org_id = $1)
		INSERT INTO grants (org_id, team_id, resource_kind, resource_id, permission)
		SELECT $1, t.id, 'agent', a.id, 'write' FROM a JOIN t ON t.k = 0 WHERE a.j < $2
		UNION ALL
		SELECT $1, t.id, 'agent', a.id, 'read' FROM a JOIN t ON t.k = 1 WHERE a.j < $3
		UNION ALL
		SELECT $1, t.id, 'agent', a.id, CASE WHEN (a.j + p) % 3 = 0 THEN 'read' ELSE 'write' END
		FROM a CROSS JOIN generate_series(0, $7::int - 1) p JOIN t ON t.k = 2 + (a.j + p) % $5
		WHERE p * $6::bigint + a.j < $4`,
		org, big, readers, rest, k, size.Agents, passes); err != nil {
		return g, err
	}
	// Audit: spread over the members and the last year, oldest first (the
	// hash join usually keeps generate_series' order, so ids and times agree, as in
	// a real log; an ORDER BY would sort a million rows for nothing).
	actions := []string{"agent.created", "agent.updated", "team.created", "team.member_added", "grant.set", "grant.removed",
		"member.role_changed", "member.removed", "invitation.created", "invitation.accepted", "org.updated", "token.created"}
	if err := run("audit events", `
		WITH m AS (SELECT a.id, a.email, (row_number() OVER (ORDER BY a.id) - 1)::int AS n
			FROM memberships mm JOIN accounts a ON a.id = mm.account_id WHERE mm.org_id = $1),
		c AS (SELECT count(*)::int AS cnt FROM m)
		INSERT INTO audit_events (org_id, actor_id, actor_email, action, target_kind, target_id, target_label, outcome, ip, created_at)
		SELECT $1, m.id, m.email, ($2::text[])[1 + (i / 7) % $4], 'agent', (i % 100000)::text, 'Agent ' || (i % 100000)::text,
			CASE WHEN i % 41 = 0 THEN 'denied' ELSE 'success' END, '10.0.0.' || (i % 250)::text,
			now() - interval '1 day' - ($3::int - i) * (interval '365 days' / greatest($3::int, 1))
		FROM generate_series(1, $3::int) i CROSS JOIN c JOIN m ON m.n = i % c.cnt`, org, pq.Array(actions), size.Audit, len(actions)); err != nil {
		return g, err
	}
	if size.Ledger > 0 {
		if err := ledger(ctx, tx, org, g.Owner.ID, slug, size.Ledger, run); err != nil {
			return g, err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT id FROM teams WHERE org_id = $1 ORDER BY id LIMIT 1`, org).Scan(&g.BigTeamID); err != nil {
		return g, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT id FROM teams WHERE org_id = $1 ORDER BY id OFFSET 1 LIMIT 1`, org).Scan(&g.ReaderTeam); err != nil {
		return g, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT resource_id FROM grants WHERE team_id = $1 ORDER BY resource_id LIMIT 1`, g.ReaderTeam).Scan(&g.AgentID); err != nil {
		return g, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT account_id FROM memberships WHERE org_id = $1 AND role = 'member' AND account_id <> $2 ORDER BY account_id LIMIT 1`,
		org, g.Reader.ID).Scan(&g.MemberID); err != nil {
		return g, err
	}
	if err := tx.Commit(); err != nil {
		return g, err
	}
	t := time.Now()
	// Fresh statistics, so the planner knows the tables' new sizes at once,
	// and a visibility map, so counts are index-only scans from the start
	// (autovacuum would get there later).
	if _, err := s.DB().ExecContext(ctx, `VACUUM ANALYZE accounts, memberships, teams, team_members, agents, grants, audit_events, audit_actors,
		packages, ledger_transactions, postings, wallets`); err != nil {
		return g, fmt.Errorf("vacuum analyze: %w", err)
	}
	step("vacuum analyze", t)
	return g, nil
}

// ledger writes n wallet entries for org, oldest first over the last year:
// every tenth a top-up of $100.00 by the owner (funding:manual), the others
// purchases by bulk members of the org's LedgerPackages packages (to
// sales), $1.00 to $9.82 each, so nine purchases never spend a top-up and
// the balance never goes below 0. Each entry is one ledger transaction of
// two postings that sum to 0 (the deferred trigger checks each at commit);
// the wallet posting carries the running balance, and the wallet's stored
// balance is the last one. The ids are taken from the sequences in one
// block, so id order is time order, as the wallet pages expect. These are
// ledger history only: no purchases or entitlements rows go with them.
func ledger(ctx context.Context, tx *sqlx.Tx, org, owner int64, slug string, n int, run func(string, string, ...any) error) error {
	if err := run("packages", `
		INSERT INTO packages (org_id, publisher_id, slug, name, type, price_cents, visibility, manifest)
		SELECT $1, $2, format('%s-pkg-%s', $3::text, lpad(g::text, 2, '0')), format('Package %s', g),
			(ARRAY['skill','mcp_server','tool','prompt'])[1 + g % 4], 100 + g * 18, 'org_only', 'name: generated'
		FROM generate_series(0, $4::int - 1) g`, org, owner, slug, LedgerPackages); err != nil {
		return err
	}
	// The plan: kind, signed wallet amount, actor, package, and time of
	// entry i, with the running balance.
	if err := run("ledger plan", `
		CREATE TEMP TABLE demo_ledger ON COMMIT DROP AS
		WITH p AS (SELECT id, price_cents, (row_number() OVER (ORDER BY id) - 1)::int AS k FROM packages WHERE org_id = $1),
		m AS (SELECT account_id, (row_number() OVER (ORDER BY account_id) - 1)::int AS k FROM memberships WHERE org_id = $1 AND role <> 'owner'),
		c AS (SELECT count(*)::int AS cnt FROM m),
		s AS (
			SELECT i, i % 10 = 1 AS top_up,
				CASE WHEN i % 10 = 1 THEN 10000 ELSE -p.price_cents END AS amount,
				CASE WHEN i % 10 = 1 THEN $2 ELSE m.account_id END AS actor,
				CASE WHEN i % 10 = 1 THEN NULL ELSE p.id END AS package_id,
				now() - ($3::int - i) * (interval '365 days' / greatest($3::int, 1)) AS at
			FROM generate_series(1, $3::int) i CROSS JOIN c
			JOIN p ON p.k = i % $4::int
			JOIN m ON m.k = i % c.cnt)
		SELECT i, top_up, amount, actor, package_id, at, (SELECT balance_cents FROM wallets WHERE org_id = $1) + sum(amount) OVER (ORDER BY i) AS after FROM s`,
		org, owner, n, LedgerPackages); err != nil {
		return err
	}
	var base int64
	if err := tx.GetContext(ctx, &base, `SELECT nextval('ledger_transactions_id_seq')`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT setval('ledger_transactions_id_seq', $1)`, base+int64(n)); err != nil {
		return err
	}
	if err := run("ledger transactions", `
		INSERT INTO ledger_transactions (id, org_id, kind, actor_account_id, package_id, note, created_at)
		SELECT $2 + i, $1, CASE WHEN top_up THEN 'top_up' ELSE 'purchase' END, actor, package_id, 'generated', at
		FROM demo_ledger ORDER BY i`, org, base); err != nil {
		return err
	}
	// Postings in entry order: the wallet leg, then the counter leg.
	if err := run("postings", `
		INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents, created_at)
		SELECT txn, account, org_id, kind, amount, after, at FROM (
			SELECT $2 + i AS txn, i, 0 AS leg, 'wallet:' || $1::bigint::text AS account, $1::bigint AS org_id,
				CASE WHEN top_up THEN 'top_up' ELSE 'purchase' END AS kind, amount, after, at FROM demo_ledger
			UNION ALL
			SELECT $2 + i, i, 1, CASE WHEN top_up THEN 'funding:manual' ELSE 'sales' END, NULL,
				CASE WHEN top_up THEN 'top_up' ELSE 'purchase' END, -amount, NULL, at FROM demo_ledger) l
		ORDER BY i, leg`, org, base); err != nil {
		return err
	}
	return run("wallet balance", `UPDATE wallets SET balance_cents = balance_cents + (SELECT COALESCE(sum(amount), 0) FROM demo_ledger),
		updated_at = now() WHERE org_id = $1`, org)
}
