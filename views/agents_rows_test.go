package views

import "testing"

// TestHandWrittenAgentRow: AgentRow writes exactly what its templ original
// writes, with and without a description, for every level and text that
// needs escaping.
func TestHandWrittenAgentRow(t *testing.T) {
	for _, name := range []string{"Support triage", `<b>"Bot" & 'Co'</b>`, "émile", ""} {
		for _, desc := range []string{"", "Answers <tickets> & \"mail\"."} {
			for _, perm := range []string{"read", "write", "admin", `x"<y>`} {
				a := AgentRowView{ID: 1234567, Name: name, Description: desc, Permission: perm, Reason: "Team 'Core' grants " + perm, Creator: name + " <c>"}
				if got, want := renderString(t, AgentRow(a)), renderString(t, agentRowTempl(a)); got != want {
					t.Fatalf("agent row %+v:\n got %s\nwant %s", a, got, want)
				}
			}
		}
	}
}
