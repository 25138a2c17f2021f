package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// TestTeamGrantsJSON: the grants GET /api/orgs/{org}/teams/{id} reads
// without reflection (times as epoch seconds) encode exactly as the grants
// the store reads for the team page do (order, names, RFC 3339 UTC times),
// page by page too.
func TestTeamGrantsJSON(t *testing.T) {
	s := db.New(dbtest.New(t))
	ctx := t.Context()
	sq := s.DB()
	var owner, org, team int64
	mustGet := func(dst any, q string, args ...any) {
		t.Helper()
		if err := sq.GetContext(ctx, dst, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustGet(&owner, `INSERT INTO accounts (email, name, email_verified_at) VALUES ('o@example.com', 'O', now()) RETURNING id`)
	mustGet(&org, `INSERT INTO orgs (slug, display_name, kind) VALUES ('json', 'JSON', 'team') RETURNING id`)
	if _, err := sq.ExecContext(ctx, `INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'owner')`, org, owner); err != nil {
		t.Fatal(err)
	}
	mustGet(&team, `INSERT INTO teams (org_id, name) VALUES ($1, 'Quote "team" ünïcode') RETURNING id`, org)
	// Names that need escaping, sorting in any case, times with fractions
	// and zones.
	if _, err := sq.ExecContext(ctx, `
		WITH a AS (INSERT INTO agents (org_id, created_by, name) SELECT $1, $2, n
			FROM unnest(ARRAY['zeta', 'Alpha <b>&', 'beta "q"', 'Gamma\\n', 'émile']) n RETURNING id)
		INSERT INTO grants (org_id, team_id, resource_kind, resource_id, permission, created_at, updated_at)
		SELECT $1, $3, 'agent', id, 'read', '2026-03-04 05:06:07.891234+02', now() FROM a`, org, owner, team); err != nil {
		t.Fatal(err)
	}
	for _, pg := range []struct{ page, per int }{{0, 0}, {1, 2}, {3, 2}, {9, 2}} {
		d, err := s.TeamPage(ctx, owner, org, team, pg.page, pg.per)
		if err != nil {
			t.Fatal(err)
		}
		want := []GrantView{}
		for _, g := range d.Grants {
			want = append(want, grantView(g))
		}
		if wantN := map[int]int{0: 5, 1: 2, 3: 1, 9: 0}[pg.page]; len(want) != wantN {
			t.Fatalf("page %v has %d grants, want %d", pg, len(want), wantN)
		}
		wantJSON, _ := json.Marshal(want)
		da, err := s.TeamAPI(ctx, owner, org, team, pg.page, pg.per)
		if err != nil {
			t.Fatal(err)
		}
		got := []GrantView{}
		for _, g := range da.Grants {
			got = append(got, grantView(g))
		}
		gotJSON, _ := json.Marshal(got)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("page %v:\n got %s\nwant %s", pg, gotJSON, wantJSON)
		}
	}
}

// TestTeamEncoders: the hand-written encoders of the team routes write the
// bytes echo's c.JSON writes for the same Envelope: strings that need
// escaping (quotes, HTML, control characters, U+2028, broken UTF-8), times
// with fractions and zones, empty lists, with and without pagination.
func TestTeamEncoders(t *testing.T) {
	encode := func(v any) string {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	odd := []string{"", "plain", `q"uo\te`, "<b>&amp;</b>", "tab\tnl\ncr\r\b\f\x00\x1f\x7f", "émile ünï 日本", "line\u2028sep\u2029",
		"bad \xff utf8 \xe2\x82", "emoji 🙂"}
	for _, s := range odd {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("string %q: got %s want %s", s, got, want)
		}
	}
	zone := time.FixedZone("x", 5*3600+30*60)
	times := []time.Time{time.Date(2026, 3, 4, 5, 6, 7, 891234000, zone), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 0)}
	for _, tm := range times {
		want, _ := json.Marshal(rfc3339(tm))
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Errorf("time %v: got %s want %s", tm, got, want)
		}
	}
	var teams []model.Team
	for i, s := range odd {
		teams = append(teams, model.Team{ID: int64(i + 1), OrgID: 7, Name: s, Description: odd[len(odd)-1-i], MemberCount: i, GrantCount: 2 * i,
			CreatedAt: times[i%len(times)], UpdatedAt: times[(i+1)%len(times)]})
	}
	for _, ts := range [][]model.Team{nil, teams[:1], teams} {
		p := NewPagePagination(1, len(ts), len(ts))
		out := make([]TeamView, 0, len(ts))
		for _, t := range ts {
			out = append(out, teamView(t))
		}
		if got, want := string(appendTeamsList(nil, ts, p)), encode(Envelope{Success: true, Data: out, Pagination: p}); got != want {
			t.Errorf("teams list:\n got %s\nwant %s", got, want)
		}
	}
	d := model.TeamDetail{Team: teams[3]}
	for i, s := range odd {
		d.Members = append(d.Members, model.TeamMembership{TeamID: d.ID, AccountID: int64(100 + i), Name: s, Email: s + "@x",
			Role: model.TeamMember, OrgRole: model.RoleAdmin, CreatedAt: times[i%len(times)]})
		d.Grants = append(d.Grants, model.Grant{ID: int64(200 + i), OrgID: 7, TeamID: d.ID, TeamName: d.Name, ResourceKind: model.ResourceAgent,
			ResourceID: int64(300 + i), ResourceName: s, Permission: model.PermWrite, CreatedAt: times[i%len(times)], UpdatedAt: times[(i+2)%len(times)]})
	}
	d.Grants[2].TeamName = "another <name>"
	empty := model.TeamDetail{Team: teams[0], Members: []model.TeamMembership{}, Grants: []model.Grant{}}
	pp := NewPagePagination(2, 3, 8)
	for _, c := range []struct {
		d model.TeamDetail
		p *PagePagination
	}{{d, nil}, {d, &pp}, {empty, nil}, {empty, &pp}} {
		env := Envelope{Success: true, Data: teamDetailView(c.d)}
		if c.p != nil {
			env.Pagination = *c.p
		}
		if got, want := string(appendTeamDetail(make([]byte, 0, teamDetailSize(c.d, len(c.d.Grants))), c.d, c.p)), encode(env); got != want {
			t.Errorf("team detail:\n got %s\nwant %s", got, want)
		}
	}
}

// TestTeamAnswersBuildOnce: calls that arrive while an answer is being
// built wait for it (one build for a burst), a new version or a different
// head builds again, a failed build keeps nothing, and what is kept stays
// under its byte bound.
func TestTeamAnswersBuildOnce(t *testing.T) {
	var c teamAnswers
	var builds atomic.Int32
	release := make(chan struct{})
	build := func(body string) func() ([]byte, error) {
		return func() ([]byte, error) {
			builds.Add(1)
			<-release
			return []byte(body), nil
		}
	}
	k := teamAnswerKey{team: 1, version: 1}
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := c.answer(k, []byte("head"), build("head+grants"))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = string(a.body)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds for one burst, want 1", n)
	}
	for _, g := range got {
		if g != "head+grants" {
			t.Fatalf("answer %q", g)
		}
	}
	if a, _ := c.answer(k, []byte("head"), build("again")); string(a.body) != "head+grants" || builds.Load() != 1 {
		t.Error("a kept answer was built again")
	}
	if a, _ := c.answer(k, []byte("other head"), build("other")); string(a.body) != "other" {
		t.Error("an answer was served for another head")
	}
	k2 := teamAnswerKey{team: 1, version: 2}
	if a, _ := c.answer(k2, []byte("head"), build("v2")); string(a.body) != "v2" || len(c.m) != 1 {
		t.Errorf("new version: %q, %d kept (the old version should go)", a.body, len(c.m))
	}
	if _, err := c.answer(teamAnswerKey{team: 3}, []byte("h"), func() ([]byte, error) { return nil, errors.New("boom") }); err == nil || c.m[teamAnswerKey{team: 3}] != nil {
		t.Error("a failed build was kept")
	}
	big := bytes.Repeat([]byte("x"), teamAnswersMax/3)
	for i := range 6 {
		_, _ = c.answer(teamAnswerKey{team: int64(10 + i)}, nil, func() ([]byte, error) { return big, nil })
	}
	if c.size > teamAnswersMax {
		t.Errorf("%d bytes kept, over %d", c.size, teamAnswersMax)
	}
}
