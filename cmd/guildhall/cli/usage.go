package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// usageView is the part of GET /api/orgs/{org}/usage the CLI shows.
type usageView struct {
	Plan      string `json:"plan"`
	Period    string `json:"period"`
	StartDate string `json:"start_date"`
	EndDate   string `json:"end_date"`
	Requests  struct {
		Total      int64   `json:"total"`
		Limit      int64   `json:"limit"`
		Percentage float64 `json:"percentage"`
	} `json:"requests"`
	ByAgent []struct {
		AgentID  int64  `json:"agent_id"`
		Name     string `json:"name"`
		Requests int64  `json:"requests"`
	} `json:"by_agent"`
	ByDay []struct {
		Date     string `json:"date"`
		Requests int64  `json:"requests"`
	} `json:"by_day"`
	Limits map[string]int64 `json:"limits"`
	Usage  map[string]int64 `json:"usage"`
}

// usageDays is how many days "org usage" charts.
const usageDays = 14

// orgUsage is "org usage [SLUG] [--json]": the last 14 days of API requests
// as a small text chart, and every limit as used / limit, for SLUG or the
// active org (the personal workspace when none is active).
func (r *runner) orgUsage(args []string) error {
	fs := flags("org usage")
	asJSON := fs.Bool("json", false, "print the usage answer as JSON")
	pos, err := r.parse(fs, "guildhall org usage [SLUG] [--json]", args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("org usage takes at most one SLUG")
	}
	_, cfg, err := r.session()
	if err != nil {
		return err
	}
	c := r.client(cfg)
	ref := cfg.orgRef()
	if len(pos) == 1 {
		ref = pos[0]
	}
	if ref == "" {
		var me struct {
			PersonalOrg struct {
				ID int64 `json:"id"`
			} `json:"personal_org"`
		}
		if err := c.do(r.ctx, http.MethodGet, "/api/me", nil, &me); err != nil {
			return err
		}
		ref = strconv.FormatInt(me.PersonalOrg.ID, 10)
	}
	var org orgView
	if err := c.do(r.ctx, http.MethodGet, orgPath(ref), nil, &org); err != nil {
		return err
	}
	// The last 14 days in UTC, today included. The server's clock decides
	// the month; the CLI's decides "today", which is fine for a chart.
	today := time.Now().UTC()
	q := url.Values{"start_date": {today.AddDate(0, 0, -(usageDays - 1)).Format(time.DateOnly)}, "end_date": {today.Format(time.DateOnly)}}
	var raw json.RawMessage
	if err := c.do(r.ctx, http.MethodGet, orgPath(ref)+"/usage?"+q.Encode(), nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		v["org"] = map[string]any{"id": org.ID, "slug": org.Slug, "display_name": org.DisplayName, "plan": org.Plan}
		out, _ := json.MarshalIndent(v, "", "  ")
		r.out("%s\n", out)
		return nil
	}
	var u usageView
	if err := json.Unmarshal(raw, &u); err != nil {
		return err
	}
	name := org.DisplayName
	if org.Kind == "personal" {
		name = "Personal workspace"
	}
	r.out("%s (%s), %s plan\n\n", name, org.Slug, title(org.Plan))
	r.out("API requests, last %d days (UTC): %s\n", usageDays, count(u.Requests.Total))
	r.out("%s", chart(u))
	if len(u.ByAgent) > 0 {
		r.out("\nBusiest agents:\n")
		for i, a := range u.ByAgent {
			if i == 5 {
				break
			}
			r.out("  %-30s %10s\n", clip(a.Name, 30), count(a.Requests))
		}
	}
	r.out("\nLimits:\n")
	for _, l := range []struct{ key, label string }{{"team_members", "team members"}, {"api_keys", "API keys (yours)"},
		{"agents", "agents"}, {"monthly_requests", "requests this month"}} {
		if l.key == "team_members" && org.Kind == "personal" {
			continue
		}
		used, max := u.Usage[l.key], u.Limits[l.key]
		line := "  " + pad(l.label, 20) + " " + padLeft(count(used)+" / "+count(max), 21) + "  " + bar(used, max, 20)
		switch {
		case used >= max:
			line += "  at the limit"
		case used*10 >= max*8:
			line += "  over 80%"
		}
		r.out("%s\n", line)
	}
	return nil
}

// chart draws one line per day with a bar scaled to the busiest day.
func chart(u usageView) string {
	var top int64
	for _, d := range u.ByDay {
		top = max(top, d.Requests)
	}
	var b strings.Builder
	for _, d := range u.ByDay {
		label := d.Date
		if t, err := time.Parse(time.DateOnly, d.Date); err == nil {
			label = t.Format("Mon Jan 02")
		}
		n := 0
		if top > 0 {
			n = int((d.Requests*40 + top - 1) / top)
		}
		b.WriteString("  " + label + "  " + pad(strings.Repeat("█", n), 40) + " " + padLeft(count(d.Requests), 9) + "\n")
	}
	return b.String()
}

func bar(used, max int64, width int) string {
	n := width
	if max > 0 && used < max {
		n = int(used * int64(width) / max)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pad(s string, n int) string {
	if l := len([]rune(s)); l < n {
		return s + strings.Repeat(" ", n-l)
	}
	return s
}

func padLeft(s string, n int) string {
	if l := len([]rune(s)); l < n {
		return strings.Repeat(" ", n-l) + s
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
