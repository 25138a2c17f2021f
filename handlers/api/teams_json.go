package api

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
)

// The team routes answer the largest lists of the API in one answer (a team
// of 2,000 grants, an org of 500 teams; API.md pages neither by default).
// encoding/json walked each row by reflection and formatted each time into a
// string first: most of the call's CPU. These encoders write the same bytes
// as c.JSON of the same Envelope (field order, HTML escaping, RFC 3339 UTC
// times, the trailing newline) straight into one buffer sized up front;
// teams_json_test.go compares the two byte for byte.

// handJSON answers status with data encoded by a hand-written enc into a
// buffer of about size bytes, or through c.JSON when the caller asked for
// indented output (?pretty, or echo's debug mode), which these encoders do
// not write. enc returns nil for a value encoding/json refuses (a time
// outside RFC 3339): c.JSON then fails as it always did. The team, agents
// and wallet history lists answer through it.
func handJSON(c echo.Context, status, size int, enc func([]byte) []byte, data func() any) error {
	if _, pretty := c.QueryParams()["pretty"]; !pretty && !c.Echo().Debug {
		if b := enc(make([]byte, 0, size)); b != nil {
			return c.Blob(status, echo.MIMEApplicationJSON, b)
		}
	}
	return c.JSON(status, data())
}

// jsonSafe holds the bytes appendJSONString copies as they are: ASCII
// but controls, quote, backslash and the HTML ones. One lookup a byte (as
// encoding/json does) writes plain text about a third faster than six
// comparisons did; the agents' texts are most of their answer.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as encoding/json writes a string (with
// SetEscapeHTML on, as echo's encoder has it).
func appendJSONString[T ~string | ~[]byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTime appends t as a JSON string in rfc3339's form (UTC, whole
// seconds), without going through a string.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return appendJSONString(b, rfc3339(t))
	}
	h, mi, s := t.Clock()
	b = append(b, '"', byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10), 'Z', '"')
	return b
}

func appendKeyInt(b []byte, key string, n int64) []byte {
	b = append(b, key...)
	return strconv.AppendInt(b, n, 10)
}

// appendKeyIntPtr appends key and *n, or null for nil.
func appendKeyIntPtr(b []byte, key string, n *int64) []byte {
	if n == nil {
		return append(append(b, key...), "null"...)
	}
	return appendKeyInt(b, key, *n)
}

func appendKeyString(b []byte, key, s string) []byte {
	b = append(b, key...)
	return appendJSONString(b, s)
}

func appendKeyTime(b []byte, key string, t time.Time) []byte {
	b = append(b, key...)
	return appendTime(b, t)
}

// appendTeam appends t as TeamView encodes, without its closing brace (a
// team detail goes on with its members and grants).
func appendTeamOpen(b []byte, t model.Team) []byte {
	b = appendKeyInt(b, `{"id":`, t.ID)
	b = appendKeyInt(b, `,"org_id":`, t.OrgID)
	b = appendKeyString(b, `,"name":`, t.Name)
	b = appendKeyString(b, `,"description":`, t.Description)
	b = appendKeyInt(b, `,"member_count":`, int64(t.MemberCount))
	b = appendKeyInt(b, `,"grant_count":`, int64(t.GrantCount))
	b = appendKeyTime(b, `,"created_at":`, t.CreatedAt)
	return appendKeyTime(b, `,"updated_at":`, t.UpdatedAt)
}

func appendPagination(b []byte, p PagePagination) []byte {
	b = appendKeyInt(b, `,"pagination":{"page":`, int64(p.Page))
	b = appendKeyInt(b, `,"per_page":`, int64(p.PerPage))
	b = appendKeyInt(b, `,"total":`, int64(p.Total))
	b = appendKeyInt(b, `,"total_pages":`, int64(p.TotalPages))
	return append(b, '}')
}

// appendTeamsList appends the Envelope of GET /api/orgs/{org}/teams: the
// teams as TeamView, and p.
func appendTeamsList(b []byte, ts []model.Team, p PagePagination) []byte {
	b = append(b, `{"success":true,"data":[`...)
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendTeamOpen(b, t), '}')
	}
	b = append(b, ']')
	b = appendPagination(b, p)
	return append(b, "}\n"...)
}

// appendTeamDetail appends the Envelope of GET /api/orgs/{org}/teams/{id}:
// d as TeamDetailView, with p when the grants are paged. (The route streams
// its grants from the database through the same pieces.)
func appendTeamDetail(b []byte, d model.TeamDetail, p *PagePagination) []byte {
	b = appendTeamDetailHead(b, d)
	for i, g := range d.Grants {
		b = appendGrant(b, i, &db.TeamAPIGrantRow{ID: g.ID, ResourceID: g.ResourceID, CreatedAt: g.CreatedAt.Unix(), UpdatedAt: g.UpdatedAt.Unix(),
			ResourceKind: []byte(g.ResourceKind), ResourceName: []byte(g.ResourceName), Permission: []byte(g.Permission)},
			g.TeamID, appendJSONString(nil, g.TeamName))
	}
	return appendTeamDetailTail(b, p)
}

// appendTeamDetailHead is the answer up to its grants: the envelope, the
// team and its members, and the grants' opening bracket.
func appendTeamDetailHead(b []byte, d model.TeamDetail) []byte {
	b = append(b, `{"success":true,"data":`...)
	b = appendTeamOpen(b, d.Team)
	b = append(b, `,"members":[`...)
	for i, m := range d.Members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKeyInt(b, `{"team_id":`, m.TeamID)
		b = appendKeyInt(b, `,"user_id":`, m.AccountID)
		b = appendKeyString(b, `,"name":`, m.Name)
		b = appendKeyString(b, `,"email":`, m.Email)
		b = appendKeyString(b, `,"role":`, string(m.Role))
		b = appendKeyString(b, `,"org_role":`, string(m.OrgRole))
		b = appendKeyTime(b, `,"joined_at":`, m.CreatedAt)
		b = append(b, '}')
	}
	return append(b, `],"grants":[`...)
}

// appendGrant appends grant number i (from 0) of team teamID, whose name
// teamName is already encoded (the same in every grant), as GrantView.
func appendGrant(b []byte, i int, g *db.TeamAPIGrantRow, teamID int64, teamName []byte) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = appendKeyInt(b, `{"id":`, g.ID)
	b = appendKeyInt(b, `,"team_id":`, teamID)
	b = append(b, `,"team_name":`...)
	b = append(b, teamName...)
	b = append(b, `,"resource_kind":`...)
	b = appendJSONString(b, g.ResourceKind)
	b = appendKeyInt(b, `,"resource_id":`, g.ResourceID)
	b = append(b, `,"resource_name":`...)
	b = appendJSONString(b, g.ResourceName)
	b = append(b, `,"permission":`...)
	b = appendJSONString(b, g.Permission)
	b = appendKeyTime(b, `,"created_at":`, time.Unix(g.CreatedAt, 0))
	b = appendKeyTime(b, `,"updated_at":`, time.Unix(g.UpdatedAt, 0))
	return append(b, '}')
}

// appendTeamDetailTail closes what appendTeamDetailHead opened.
func appendTeamDetailTail(b []byte, p *PagePagination) []byte {
	b = append(b, "]}"...)
	if p != nil {
		b = appendPagination(b, *p)
	}
	return append(b, "}\n"...)
}

// teamDetailSize guesses the encoded size of d with grants grants, so the
// buffer grows once at most (a grant is about 210 bytes and its names, a
// member 220, the team 400).
func teamDetailSize(d model.TeamDetail, grants int) int {
	return 400 + 220*len(d.Members) + (230+len(d.Name))*grants
}
