package api

import "guildhall/db/model"

// GET /api/agents answers up to a page of agents, each with its config (a
// free text of any size) and its permission's source; encoding/json spent
// most of the call's CPU on them by reflection. appendAgentsList writes the
// bytes c.JSON writes for the same Envelope with the teams' helpers (see
// teams_json.go); agents_json_test.go compares the two byte for byte.

// appendAgent appends agent number i (from 0) of a list as AgentView.
func appendAgent(b []byte, i int, a *model.Agent) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = appendKeyInt(b, `{"id":`, a.ID)
	b = appendKeyInt(b, `,"org_id":`, a.OrgID)
	b = appendKeyString(b, `,"org_slug":`, a.OrgSlug)
	b = appendKeyString(b, `,"name":`, a.Name)
	b = appendKeyString(b, `,"description":`, a.Description)
	b = appendKeyString(b, `,"config":`, a.Config)
	b = appendKeyIntPtr(b, `,"created_by":`, a.CreatedBy)
	b = appendKeyString(b, `,"permission":`, string(a.Permission))
	// model.Source: team_id and team_name are omitempty.
	b = appendKeyString(b, `,"source":{"rule":`, a.Source.Rule)
	if a.Source.TeamID != 0 {
		b = appendKeyInt(b, `,"team_id":`, a.Source.TeamID)
	}
	if a.Source.TeamName != "" {
		b = appendKeyString(b, `,"team_name":`, a.Source.TeamName)
	}
	b = appendKeyTime(b, `},"created_at":`, a.CreatedAt)
	b = appendKeyTime(b, `,"updated_at":`, a.UpdatedAt)
	return append(b, '}')
}

// appendAgentsList appends the Envelope of GET /api/agents: the agents as
// AgentView, and p.
func appendAgentsList(b []byte, as []model.Agent, p PagePagination) []byte {
	b = append(b, `{"success":true,"data":[`...)
	for i := range as {
		b = appendAgent(b, i, &as[i])
	}
	b = append(b, ']')
	b = appendPagination(b, p)
	return append(b, "}\n"...)
}

// agentsListSize guesses the encoded size of as, so the buffer need not
// grow: an agent's keys, numbers and times are about 260 bytes, then its
// texts and a quarter for their escapes (a config of JSON text is full of
// quotes).
func agentsListSize(as []model.Agent) int {
	n := 128
	for i := range as {
		a := &as[i]
		texts := len(a.OrgSlug) + len(a.Name) + len(a.Description) + len(a.Config) + len(a.Source.TeamName)
		n += 260 + texts + texts/4
	}
	return n
}

// agentViews is what List encoded before: the Envelope's data for ?pretty,
// and the tests' reference.
func agentViews(as []model.Agent) []AgentView {
	out := make([]AgentView, 0, len(as))
	for _, a := range as {
		out = append(out, agentView(a))
	}
	return out
}
