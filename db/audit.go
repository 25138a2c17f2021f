package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"guildhall/db/model"

	"github.com/lib/pq"
)

const auditCols = `id, org_id, actor_id, actor_email, token_id, action, target_kind, target_id,
	target_label, outcome, ip, created_at`

// partialActor is the part of an address an actor filter names, when it
// names neither an account id nor a whole address.
func partialActor(f model.AuditFilter) (string, bool) {
	a := strings.TrimSpace(f.Actor)
	if a == "" {
		return "", false
	}
	if _, err := strconv.ParseInt(a, 10, 64); err == nil {
		return "", false
	}
	if model.ValidateEmail(strings.ToLower(a)) == nil {
		return "", false
	}
	return strings.ToLower(a), true
}

// auditActorsMax is how many addresses a partial actor filter reads the
// events of by address. A part more of the org's actors share is common
// enough that the walk from the newest event fills a page soon.
const auditActorsMax = 100

// auditActors resolves a partial actor filter to the addresses in org's log
// that contain part, in any case (audit_actors, migration 00018). ok is
// false when more than auditActorsMax do: the caller then matches the part
// as it walks the log.
func (s *Store) auditActors(ctx context.Context, orgID int64, part string) (emails []string, ok bool, err error) {
	// LIKE, which audit_actors_email_trgm_idx (00019) serves for a part of
	// three characters or more, planned for the part at hand.
	err = s.db.PerCall().SelectContext(ctx, &emails, `SELECT actor_email FROM audit_actors
		WHERE org_id = $1 AND email_lower LIKE $2 LIMIT `+strconv.Itoa(auditActorsMax+1), orgID, containsPattern(part))
	if err != nil {
		return nil, false, fmt.Errorf("audit actors: %w", err)
	}
	if len(emails) > auditActorsMax {
		return nil, false, nil
	}
	return emails, true, nil
}

// auditScope is an audit filter made ready to read: a partial actor is
// resolved (auditActors) when few addresses contain it. empty means it
// matches no address, so there is nothing to read.
type auditScope struct {
	actors []string // the addresses a resolved partial actor stands for
	empty  bool
}

func (s *Store) auditScope(ctx context.Context, orgID int64, f model.AuditFilter) (auditScope, error) {
	var sc auditScope
	part, ok := partialActor(f)
	if !ok {
		return sc, nil
	}
	emails, few, err := s.auditActors(ctx, orgID, part)
	if err != nil || !few {
		return sc, err
	}
	sc.actors, sc.empty = emails, len(emails) == 0
	return sc, nil
}

// auditByActorsQuery reads limit events of a partial actor resolved to a
// few addresses (auditScope): each address's newest limit that pass the
// other filters, a range of audit_events_org_email_idx, then the newest
// limit of those. It reads at most auditActorsMax × limit index entries
// however many events each address has (the events of ten actors behind a
// hundred each took 3.7 ms with = ANY, which read them all and sorted).
// Each address is planned as it comes (PerCall): a date range or an
// action may be better walked another way.
func auditByActorsQuery(orgID int64, f model.AuditFilter, actors []string, limit int) (string, []any) {
	g := f
	g.Actor = ""
	where, args := auditWhere(orgID, g)
	args = append(args, pq.StringArray(actors))
	n, order := strconv.Itoa(limit), auditOrder(f)
	return `SELECT ` + auditCols + ` FROM audit_events WHERE id IN (SELECT k.id FROM (
		SELECT x.id, x.created_at FROM unnest($` + strconv.Itoa(len(args)) + `::text[]) AS u(email)
		CROSS JOIN LATERAL (SELECT id, created_at FROM audit_events WHERE ` + where + ` AND actor_email = u.email
			ORDER BY ` + order + ` LIMIT ` + n + `) x
		ORDER BY ` + order + ` LIMIT ` + n + `) k)
		ORDER BY ` + order, args
}

// auditWhere builds the filter of an audit query; args[0] is the org id.
func auditWhere(orgID int64, f model.AuditFilter) (string, []any) {
	conds := []string{"org_id = $1"}
	if strings.TrimSpace(f.Actor) == "" && strings.TrimSpace(f.Action) == "" && f.Outcome == "" && !byTime(f) {
		// The whole log, newest first (and its cursor pages): the org
		// hidden from the planner (orgParam) keeps one plan, the org's
		// index, instead of planning every call for a big org.
		conds[0] = "org_id = " + orgParam(1)
	}
	args := []any{orgID}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if a := strings.TrimSpace(f.Actor); a != "" {
		if id, err := strconv.ParseInt(a, 10, 64); err == nil {
			add("actor_id = ?", id)
		} else if model.ValidateEmail(strings.ToLower(a)) == nil {
			// A whole address: an index lookup (audit_events_org_email_idx),
			// not a substring scan of the whole log.
			add("actor_email = ?", strings.ToLower(a))
		} else {
			add("actor_email ILIKE ?", containsPattern(strings.ToLower(a)))
		}
	}
	if a := strings.TrimSpace(f.Action); a != "" {
		if strings.HasSuffix(a, ".") {
			add("action LIKE ?", escapeLike(a)+"%")
		} else {
			add("action = ?", a)
		}
	}
	switch f.Outcome {
	case "":
	case model.OutcomeDenied, model.OutcomeError:
		// Written as a literal (one of these two constants, never the
		// caller's text), so the plan may use the partial index of the
		// outcomes other than success (00020).
		conds = append(conds, "outcome = '"+f.Outcome+"'")
	default:
		add("outcome = ?", f.Outcome)
	}
	if f.Since != nil {
		add("created_at >= ?", *f.Since)
	}
	if f.Until != nil {
		add("created_at < ?", *f.Until)
	}
	if f.Before > 0 {
		if byTime(f) {
			// The page after event Before in (created_at, id) order.
			add("(created_at, id) < (SELECT b.created_at, b.id FROM audit_events b WHERE b.id = ?)", f.Before)
		} else {
			add("id < ?", f.Before)
		}
	}
	return strings.Join(conds, " AND "), args
}

// byTime reports whether a filter lists events by time: a date range walks
// audit_events_org_time_idx (00009) from its end instead of the id order's
// walk past every newer event (80,000 rows for a range a month back in the
// large data set). Ids and times rise together, so the order is the same a
// reader sees either way; the cursor stays an event id.
func byTime(f model.AuditFilter) bool { return f.Since != nil || f.Until != nil }

// auditOrder is the ORDER BY of a filtered audit query.
func auditOrder(f model.AuditFilter) string {
	if byTime(f) {
		return "created_at DESC, id DESC"
	}
	return "id DESC"
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AuditPage is one page of the audit log, newest first, with the keyset cursor
// of the next page (0 at the end).
type AuditPage struct {
	Events []model.AuditEvent
	Next   int64
}

// DefaultAuditLimit is the API's page of the audit log, AuditPageSize the
// audit page's (a page is read by a person; 25 rows keep it light).
const (
	DefaultAuditLimit = 50
	AuditPageSize     = 25
)

// ListAudit reads an org's audit log (owners and admins).
func (s *Store) ListAudit(ctx context.Context, actor model.Actor, orgID int64, f model.AuditFilter) (AuditPage, error) {
	if err := s.requireAction(ctx, actor, orgID, model.ActReadAudit, "Only owners and admins can read the audit log."); err != nil {
		return AuditPage{}, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = DefaultAuditLimit
	}
	sc, err := s.auditScope(ctx, orgID, f)
	if err != nil || sc.empty {
		return AuditPage{}, err
	}
	var evs []model.AuditEvent
	if sc.actors != nil {
		query, args := auditByActorsQuery(orgID, f, sc.actors, f.Limit+1)
		evs, err = auditEvents(ctx, s.db.PerCall(), query, args)
	} else {
		where, args := auditWhere(orgID, f)
		query, args := limitArgs(`SELECT `+auditCols+` FROM audit_events WHERE `+where+
			` ORDER BY `+auditOrder(f)+` LIMIT :limit`, f.Limit+1, args, DefaultAuditLimit+1, AuditPageSize+1)
		evs, err = auditEvents(ctx, s.db, query, args)
	}
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	page := AuditPage{Events: evs}
	if len(evs) > f.Limit {
		page.Events = evs[:f.Limit]
		page.Next = page.Events[f.Limit-1].ID
	}
	return page, nil
}

// auditEvents runs an audit query (auditCols in their order), read without
// reflection.
func auditEvents(ctx context.Context, q queryer, query string, args []any) ([]model.AuditEvent, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []model.AuditEvent
	for rows.Next() {
		var e model.AuditEvent
		if err := rows.Scan(&e.ID, &e.OrgID, &e.ActorID, &e.ActorEmail, &e.TokenID, &e.Action, &e.TargetKind, &e.TargetID,
			&e.TargetLabel, &e.Outcome, &e.IP, &e.CreatedAt); err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, rows.Err()
}

// ExportAudit streams every matching event, newest first, to emit, and
// records the export itself.
func (s *Store) ExportAudit(ctx context.Context, actor model.Actor, orgID int64, f model.AuditFilter, format string, emit func(model.AuditEvent) error) error {
	if err := s.requireAction(ctx, actor, orgID, model.ActReadAudit, "Only owners and admins can export the audit log."); err != nil {
		return err
	}
	err := s.InTx(ctx, actor, func(tx *Tx) error {
		return tx.Record(orgID, "audit.exported", model.Target{Kind: "audit", ID: strconv.FormatInt(orgID, 10), Label: format})
	})
	if err != nil {
		return err
	}
	f.Limit = 1000
	sc, err := s.auditScope(ctx, orgID, f)
	if err != nil || sc.empty {
		return err
	}
	for {
		var evs []model.AuditEvent
		if sc.actors != nil {
			query, args := auditByActorsQuery(orgID, f, sc.actors, f.Limit)
			evs, err = auditEvents(ctx, s.db.PerCall(), query, args)
		} else {
			where, args := auditWhere(orgID, f)
			evs, err = auditEvents(ctx, s.db, `SELECT `+auditCols+` FROM audit_events WHERE `+where+
				` ORDER BY `+auditOrder(f)+` LIMIT `+strconv.Itoa(f.Limit), args)
		}
		if err != nil {
			return fmt.Errorf("export audit: %w", err)
		}
		for _, ev := range evs {
			if err := emit(ev); err != nil {
				return err
			}
		}
		if len(evs) < f.Limit {
			return nil
		}
		f.Before = evs[len(evs)-1].ID
	}
}

// Activity is one event of the overview's feed, with the actor's current
// name (the event keeps only the email it had).
type Activity struct {
	model.AuditEvent
	ActorName string `db:"actor_name"`
}

// RecentActivity is the latest successful events of an org for the overview
// page, newest first. The caller decides what each viewer may see of them
// (model.ActivitySentence). n is written into the text (see limitArgs): callers
// pass a constant. The org is a sub-select (orgParam): for an org holding
// most events a plan made for its id walks the primary key, which looks
// cheaper than the org's index, so PostgreSQL never kept the generic plan
// and planned this statement on every overview (0.2-0.3 ms, four times its
// execution).
func (s *Store) RecentActivity(ctx context.Context, orgID int64, n int) ([]Activity, error) {
	var evs []Activity
	err := s.db.SelectContext(ctx, &evs, `SELECT e.id, e.org_id, e.actor_id, e.actor_email, e.token_id, e.action,
		e.target_kind, e.target_id, e.target_label, e.outcome, e.ip, e.created_at, COALESCE(a.name, '') AS actor_name
		FROM audit_events e LEFT JOIN accounts a ON a.id = e.actor_id
		WHERE e.org_id = `+orgParam(1)+` AND e.outcome = 'success' ORDER BY e.id DESC LIMIT `+strconv.Itoa(n), orgID)
	if err != nil {
		return nil, fmt.Errorf("recent activity: %w", err)
	}
	return evs, nil
}

// DeleteBlockers lists what stops an org from being deleted now, so the
// settings page can list it before anyone tries (DeleteOrg checks again
// under its lock).
func (s *Store) DeleteBlockers(ctx context.Context, orgID int64) ([]Blocker, error) {
	var bs []Blocker
	if err := s.db.SelectContext(ctx, &bs, deleteGuards, orgID); err != nil {
		return nil, fmt.Errorf("check what the org owns: %w", err)
	}
	return bs, nil
}

// requireAction checks the actor's role in org allows action. Not a member is
// not found; a member without the right is forbidden and the refusal audited.
func (s *Store) requireAction(ctx context.Context, actor model.Actor, orgID int64, action model.Action, msg string) error {
	role, err := s.RoleIn(ctx, orgID, actor.AccountID)
	if err != nil {
		return err
	}
	if !model.Can(role, action) {
		if err := s.RecordDenied(ctx, actor, orgID, auditActionFor(action), model.Target{Kind: "org", ID: strconv.FormatInt(orgID, 10)}); err != nil {
			return err
		}
		return model.Forbidden("%s", msg)
	}
	return nil
}

// auditActionFor names the audit action for a refused read of a protected area.
func auditActionFor(a model.Action) string {
	switch a {
	case model.ActReadAudit:
		return "audit.read"
	default:
		return "org.access"
	}
}

// RoleIn returns accountID's role in org; not a member is not found.
func (s *Store) RoleIn(ctx context.Context, orgID, accountID int64) (model.Role, error) {
	if r, ok := knownRole(ctx, orgID, accountID); ok {
		return r, nil
	}
	var r model.Role
	err := s.db.GetContext(ctx, &r, `SELECT role FROM memberships WHERE org_id = $1 AND account_id = $2`, orgID, accountID)
	return r, notFound(err, "organization")
}
