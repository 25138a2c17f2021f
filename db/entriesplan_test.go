package db

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// TestSmallOrgHistoryDoesNotWalkOtherOrgs: a wallet's history and an audit
// log are read with cached generic plans, whose estimate for "org_id = $1"
// is an average org. With one org holding nearly every row, that plan
// walked the primary key backwards and filtered by org, so a small org's
// page read every row of the big one (on the large data set: 140 ms for an
// audit page, 20 ms for a wallet page). Migration 00017 tells the planner
// orgs are many; the wallet's page of ids comes from the org's index.
func TestSmallOrgHistoryDoesNotWalkOtherOrgs(t *testing.T) {
	sqlDB := dbtest.New(t)
	const big, small = 1001, 1002
	// 6,000 top-ups of the big org, 3 of the small one (balanced pairs:
	// the wallet and a funding account).
	// The big org's postings are analyzed before the small org has any, as
	// when a new org starts next to an established one: the statistics see
	// one org.
	post := func(from, to, org int) []string {
		return []string{
			`INSERT INTO ledger_transactions (id, org_id, kind) SELECT i, ` + strconv.Itoa(org) + `, 'top_up' FROM generate_series(` + strconv.Itoa(from) + `, ` + strconv.Itoa(to) + `) i`,
			`INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents)
				SELECT id, 'wallet:' || org_id, org_id, 'top_up', 100, 100 * id FROM ledger_transactions WHERE id BETWEEN ` + strconv.Itoa(from) + ` AND ` + strconv.Itoa(to) + `
				UNION ALL SELECT id, 'funding:test', NULL, 'top_up', -100, NULL FROM ledger_transactions WHERE id BETWEEN ` + strconv.Itoa(from) + ` AND ` + strconv.Itoa(to),
		}
	}
	events := func(n, org int) string {
		return `INSERT INTO audit_events (org_id, action, outcome) SELECT ` + strconv.Itoa(org) + `, 'member.invited', 'success' FROM generate_series(1, ` + strconv.Itoa(n) + `)`
	}
	steps := append(post(1, 6000, big), events(20000, big), "ANALYZE postings, audit_events")
	steps = append(steps, post(6001, 6003, small)...)
	conn := planConn(t, sqlDB, append(steps, events(3, small)))
	type read struct {
		name  string
		query string
		args  []any
	}
	var reads []read
	for _, f := range []model.EntryFilter{{Limit: WalletPageEntries}, {Limit: defaultEntriesLimit, Kind: "top_up"}} {
		q, args := entriesQuery(small, f)
		reads = append(reads, read{fmt.Sprintf("wallet %+v", f), q, args})
	}
	for _, f := range []model.AuditFilter{{Limit: AuditPageSize}, {Limit: DefaultAuditLimit, Action: "member.invited"}} {
		where, args := auditWhere(small, f)
		q, args := limitArgs(`SELECT `+auditCols+` FROM audit_events WHERE `+where+
			` ORDER BY `+auditOrder(f)+` LIMIT :limit`, f.Limit+1, args, DefaultAuditLimit+1, AuditPageSize+1)
		reads = append(reads, read{fmt.Sprintf("audit %+v", f), q, args})
	}
	for _, r := range reads {
		plan := explainGeneric(t, conn, r.name, r.query, r.args)
		if n, _ := plan["Actual Rows"].(float64); n != 3 {
			t.Errorf("%s: %v rows, want the small org's 3", r.name, n)
		}
		// The walk shows as a scan that threw away the big org's rows.
		planNodes(plan, func(node map[string]any) {
			if n, _ := node["Rows Removed by Filter"].(float64); n > 100 {
				t.Errorf("%s: %v on %v read %v rows of another org for 3", r.name, node["Node Type"], node["Relation Name"], n)
			}
		})
	}
}

// TestRareFiltersReadFewRows: filters a person types whose value matches
// few rows were read by walking the org's newest rows until a page matched,
// so a rare value read nearly all of them (on the large data set: the audit
// log's outcome=error 450 ms, one member's wallet history 40 ms). Migration
// 00020 indexes the unsuccessful outcomes and each actor's transactions.
func TestRareFiltersReadFewRows(t *testing.T) {
	sqlDB := dbtest.New(t)
	const org, busy, rare = 1001, 501, 502
	conn := planConn(t, sqlDB, []string{
		// 20,000 events, one in 500 refused, none failed.
		`INSERT INTO audit_events (org_id, action, outcome)
			SELECT ` + strconv.Itoa(org) + `, 'member.invited', CASE WHEN i % 500 = 0 THEN 'denied' ELSE 'success' END FROM generate_series(1, 20000) i`,
		// 6,000 purchases by a busy member, three by a rare one, spread
		// over the history.
		`INSERT INTO ledger_transactions (id, org_id, kind, actor_account_id)
			SELECT i, ` + strconv.Itoa(org) + `, 'top_up', CASE WHEN i % 2000 = 0 THEN ` + strconv.Itoa(rare) + ` ELSE ` + strconv.Itoa(busy) + ` END FROM generate_series(1, 6000) i`,
		// Each transaction's two postings together, as the ledger writes them.
		`INSERT INTO postings (txn_id, account, org_id, kind, amount_cents, balance_after_cents)
			SELECT t.id, x.account, x.org_id, 'top_up', x.amount, x.balance FROM ledger_transactions t
			CROSS JOIN LATERAL (VALUES ('wallet:' || t.org_id, t.org_id, 100, 100 * t.id, 1), ('funding:test', NULL, -100, NULL, 2))
				AS x(account, org_id, amount, balance, n)
			ORDER BY t.id, x.n`,
		"ANALYZE postings, ledger_transactions, audit_events",
	})
	check := func(name string, plan map[string]any, want float64) {
		t.Helper()
		if n, _ := plan["Actual Rows"].(float64); n != want {
			t.Errorf("%s: %v rows, want %v", name, n, want)
		}
		var read float64
		planNodes(plan, func(node map[string]any) {
			if _, ok := node["Relation Name"]; ok {
				read += rowsRead(node)
			}
		})
		if read > 200 {
			b, _ := json.MarshalIndent(plan, "", " ")
			t.Errorf("%s read %v rows of its tables for %v: %s", name, read, want, b)
		}
	}
	for _, c := range []struct {
		outcome string
		want    float64
	}{{model.OutcomeError, 0}, {model.OutcomeDenied, AuditPageSize + 1}} {
		f := model.AuditFilter{Outcome: c.outcome, Limit: AuditPageSize}
		where, args := auditWhere(org, f)
		q, args := limitArgs(`SELECT `+auditCols+` FROM audit_events WHERE `+where+
			` ORDER BY `+auditOrder(f)+` LIMIT :limit`, f.Limit+1, args, DefaultAuditLimit+1, AuditPageSize+1)
		check("audit outcome "+c.outcome, explainGeneric(t, conn, c.outcome, q, args), c.want)
	}
	q, args := entriesQuery(org, model.EntryFilter{UserID: rare, Limit: WalletPageEntries})
	check("wallet of a member behind 3 of 6,000 entries", explainCustom(t, conn, "rare member", q, args), 3)
	q, args = entriesQuery(org, model.EntryFilter{UserID: busy, Limit: WalletPageEntries})
	check("wallet of a member behind most entries", explainCustom(t, conn, "busy member", q, args), WalletPageEntries+1)
}
