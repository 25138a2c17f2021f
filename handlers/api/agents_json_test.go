package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
)

// encodeAsEcho is the oracle: v as echo's DefaultJSONSerializer writes it
// for c.JSON (a json.Encoder, HTML escaping on, no indent, a newline).
func encodeAsEcho(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// echoAnswer runs answer in an echo context for GET /x?query, as a route
// would.
func echoAnswer(query string, answer func(echo.Context) error) (*httptest.ResponseRecorder, error) {
	rec := httptest.NewRecorder()
	err := answer(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/x?"+query, nil), rec))
	return rec, err
}

// sameAnswers checks that handJSON with enc answers as c.JSON of data()
// does (status, type, body, error), and that ?pretty is c.JSON's own.
func sameAnswers(t *testing.T, name string, enc func([]byte) []byte, data func() any) {
	t.Helper()
	for _, q := range []string{"", "pretty"} {
		got, gerr := echoAnswer(q, func(c echo.Context) error { return handJSON(c, http.StatusOK, 16, enc, data) })
		want, werr := echoAnswer(q, func(c echo.Context) error { return c.JSON(http.StatusOK, data()) })
		if (gerr == nil) != (werr == nil) || got.Code != want.Code || got.Body.String() != want.Body.String() ||
			got.Header().Get(echo.HeaderContentType) != want.Header().Get(echo.HeaderContentType) {
			t.Errorf("%s ?%s: got %d %q %v %s\nwant %d %q %v %s", name, q, got.Code, got.Header().Get(echo.HeaderContentType), gerr, got.Body,
				want.Code, want.Header().Get(echo.HeaderContentType), werr, want.Body)
		}
	}
}

// Strings that need escaping, and times with fractions, zones and years
// rfc3339 does not fit in four digits.
var (
	oddStrings = []string{"", "plain", `<b>"q" & 'x'</b>`, "line\nbreak\r\t\b\f\x00\x1f\x7f", "sep\u2028par\u2029", "bad \xff utf8 \xe2\x82",
		"émile ünï 日本 🙂", `back\slash "quoted"`, "{\"model\":\"gpt\",\"max\":3}"}
	oddTimes = []time.Time{{}, time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.FixedZone("x", 5*3600+30*60)),
		time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.FixedZone("y", -8*3600)), time.Unix(0, 0), time.Unix(1767225600, 500000000).UTC(),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()}
)

func int64p(n int64) *int64 { return &n }

// TestAgentsEncoder: appendAgentsList writes the bytes c.JSON writes for
// the Envelope List answered before (agentView of each agent): every
// permission and source rule (a team's id and name omitted when empty),
// created_by null or not, odd strings and times, empty lists.
func TestAgentsEncoder(t *testing.T) {
	perms := []model.Permission{model.PermNone, model.PermRead, model.PermWrite, model.PermAdmin, ""}
	sources := []model.Source{{Rule: model.SourceNoMembership}, {Rule: model.SourceOrgRole}, {Rule: model.SourceBillingRole},
		{Rule: model.SourceBasePermission}, {Rule: model.SourceTeamGrant, TeamID: 9, TeamName: "Ops <core> & \"friends\""},
		{Rule: model.SourceCreator}, {Rule: model.SourcePersonalOwner}, {Rule: model.SourceNone},
		{Rule: model.SourceTeamGrant, TeamID: 10}, {Rule: model.SourceTeamGrant, TeamName: "\u2028"}, {}}
	creators := []*int64{nil, int64p(0), int64p(42), int64p(-7)}
	var as []model.Agent
	for i := range 3 * len(sources) {
		s := func(k int) string { return oddStrings[(i+k)%len(oddStrings)] }
		as = append(as, model.Agent{ID: int64(i + 1), OrgID: int64(100 + i%3), OrgSlug: "org-" + s(0), OrgName: "not encoded", Name: s(1),
			Description: s(2), Config: s(3), CreatedBy: creators[i%len(creators)], CreatorName: "not encoded",
			CreatedAt: oddTimes[i%len(oddTimes)], UpdatedAt: oddTimes[(i+3)%len(oddTimes)],
			Permission: perms[i%len(perms)], Source: sources[i%len(sources)], ViewerOrgRole: model.RoleMember})
	}
	pages := []PagePagination{NewPagePagination(1, 20, 0), NewPagePagination(2, 1, 7), NewPagePagination(1, 100, len(as))}
	for k, list := range [][]model.Agent{nil, {}, as[:1], as[4:5], as} {
		p := pages[k%len(pages)]
		data := func() any { return Envelope{Success: true, Data: agentViews(list), Pagination: p} }
		want := encodeAsEcho(t, data())
		if got := string(appendAgentsList(nil, list, p)); got != want {
			t.Errorf("%d agents:\n got %s\nwant %s", len(list), got, want)
		}
		if got := string(appendAgentsList(make([]byte, 0, agentsListSize(list)), list, p)); got != want {
			t.Errorf("%d agents, sized: differs", len(list))
		}
		sameAnswers(t, fmt.Sprintf("%d agents", len(list)), func(b []byte) []byte { return appendAgentsList(b, list, p) }, data)
	}
	// Each agent alone too, so a difference names its case.
	for _, a := range as {
		p := pages[0]
		want := encodeAsEcho(t, Envelope{Success: true, Data: []AgentView{agentView(a)}, Pagination: p})
		if got := string(appendAgentsList(nil, []model.Agent{a}, p)); got != want {
			t.Errorf("agent %d:\n got %s\nwant %s", a.ID, got, want)
		}
	}
}

// benchAgents is a page of 50 agents as the list shows them: short names
// and descriptions, a config of a few hundred bytes of JSON text.
func benchAgents() []model.Agent {
	cfg := `{"model":"large-2","temperature":0.2,"tools":["search","fetch","calendar"],"system":"You answer <b>support</b> questions & escalate.","max_tokens":4096}`
	as := make([]model.Agent, 50)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.UTC)
	for i := range as {
		as[i] = model.Agent{ID: int64(1000 + i), OrgID: 77, OrgSlug: "acme-robotics", OrgName: "Acme Robotics", Name: fmt.Sprintf("Support agent %d", i),
			Description: "Answers the first line of customer questions, in English and French.", Config: cfg, CreatedBy: int64p(12),
			CreatedAt: t0.Add(time.Duration(i) * time.Hour), UpdatedAt: t0.Add(time.Duration(i) * 25 * time.Hour),
			Permission: model.PermWrite, Source: model.Source{Rule: model.SourceBasePermission}}
		if i%3 == 0 {
			as[i].CreatedBy = nil
			as[i].Permission, as[i].Source = model.PermAdmin, model.Source{Rule: model.SourceTeamGrant, TeamID: 5, TeamName: "Support"}
		}
	}
	return as
}

// BenchmarkAgentsList50: a page of 50 agents, hand-written (its buffer
// included) against what List did before (the views, then c.JSON's
// encoder writing to the response).
func BenchmarkAgentsList50(b *testing.B) {
	as, p := benchAgents(), NewPagePagination(1, 50, 50)
	want := encodeAsEcho(b, Envelope{Success: true, Data: agentViews(as), Pagination: p})
	if got := string(appendAgentsList(nil, as, p)); got != want {
		b.Fatalf("the encoders differ:\n got %s\nwant %s", got, want)
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			_ = appendAgentsList(make([]byte, 0, agentsListSize(as)), as, p)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if err := json.NewEncoder(io.Discard).Encode(Envelope{Success: true, Data: agentViews(as), Pagination: p}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
