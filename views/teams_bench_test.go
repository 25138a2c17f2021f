package views

import (
	"bytes"
	"context"
	"strconv"
	"testing"
)

// benchTeam is the large data set's team page as its owner sees it: 20
// members, a page of 25 of its 2,000 grants, the pickers closed.
func benchTeam() (Shell, TeamDetailView) {
	s := Shell{Title: "Big grants", Nav: "teams", CSRF: "hfcIUQBJbP2LIzYlOFOp4n32U2wbSwckgswUvsKxEYY",
		Account: &AccountView{ID: 1, Name: "Owner", Email: "owner@large.example.com", Verified: true},
		Active:  WorkspaceItem{ID: 3, Name: "Large", Slug: "large", RoleLabel: "Owner", Active: true}}
	s.Workspaces = []WorkspaceItem{s.Active}
	v := TeamDetailView{ID: 1, Name: "Big grants", Description: "Generated team.", OrgName: "Large", CanManage: true, CanDelete: true,
		Edit: TeamForm{Name: "Big grants", Description: "Generated team."}}
	for i := 1; i <= 20; i++ {
		n := "Member " + strconv.Itoa(i)
		v.Members = append(v.Members, TeamMemberRowView{UserID: int64(i + 2), Name: n, Email: "m00000" + strconv.Itoa(i) + "@large.example.com",
			Role: "member", RoleLabel: "Member", OrgRole: "Member", CanManage: true})
	}
	for i := 1; i <= 25; i++ {
		v.Grants = append(v.Grants, GrantRowView{ID: int64(i), TeamID: 1, AgentID: int64(i), AgentName: "Agent 0000" + strconv.Itoa(i),
			Permission: "write", CanManage: true})
	}
	return s, v
}

// BenchmarkTeamPage renders the team page (the named case of issue 12):
// its CPU and bytes are most of what the page costs after its queries.
func BenchmarkTeamPage(b *testing.B) {
	s, v := benchTeam()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := TeamPage(s, v).Render(context.Background(), &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
