package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"guildhall/db"
	"guildhall/db/model"
	"guildhall/views"
	"guildhall/web/request"
)

// Audit shows and exports the active org's audit log.
type Audit struct {
	*Base
}

// ParseAuditFilter reads the filters shared by the page and the API. Dates
// are YYYY-MM-DD (the whole day, UTC) or RFC 3339.
func ParseAuditFilter(q url.Values) (model.AuditFilter, error) {
	f := model.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Outcome: q.Get("outcome")}
	fields := model.Fields{}
	switch f.Outcome {
	case "", model.OutcomeSuccess, model.OutcomeDenied, model.OutcomeError:
	default:
		fields.Add("outcome", "Outcome must be success, denied or error.")
	}
	parse := func(name string, endOfDay bool) *time.Time {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			t = t.UTC()
			return &t
		}
		if t, err := time.Parse("2006-01-02", v); err == nil {
			if endOfDay {
				t = t.Add(24 * time.Hour)
			}
			return &t
		}
		fields.Add(name, name+" must be a date (YYYY-MM-DD) or an RFC 3339 time.")
		return nil
	}
	f.Since, f.Until = parse("since", false), parse("until", true)
	if f.Since != nil && f.Until != nil && !f.Since.Before(*f.Until) {
		fields.Add("until", "To must be on or after From.")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			fields.Add("limit", "limit must be a number from 1 to 200.")
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			fields.Add("cursor", "The cursor is not valid.")
		}
		f.Before = n
	}
	return f, fields.Err()
}

// Page shows the filtered, keyset-paginated log.
func (h *Audit) Page(c echo.Context) error {
	ws := request.Workspace(c)
	q := c.QueryParams()
	v := views.AuditView{Actor: q.Get("actor"), Action: q.Get("action"), Outcome: q.Get("outcome"), Since: q.Get("since"), Until: q.Get("until")}
	exp := url.Values{}
	for _, k := range []string{"actor", "action", "outcome", "since", "until"} {
		if q.Get(k) != "" {
			exp.Set(k, q.Get(k))
		}
	}
	exp.Set("format", "csv")
	v.ExportCSV = "/audit/export?" + exp.Encode()
	exp.Set("format", "jsonl")
	v.ExportJSONL = "/audit/export?" + exp.Encode()
	f, err := ParseAuditFilter(q)
	status := http.StatusOK
	if fields, msg, ok := FieldErrors(err); ok {
		v.Error, v.Errors, status = msg, fields, http.StatusUnprocessableEntity
		// Fields with a place in the form show there; others (limit,
		// cursor from a hand-made link) in the line above the results.
		for name, m := range fields {
			switch name {
			case "outcome", "since", "until":
			default:
				v.Error = m
			}
		}
		if v.Error == "" {
			v.Error = "Check the filters marked above: nothing was searched."
		}
	} else if err != nil {
		return err
	} else {
		if f.Limit == 0 {
			f.Limit = db.AuditPageSize
		}
		page, err := h.Store.ListAudit(c.Request().Context(), request.Actor(c), ws.ID, f)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			v.Rows = append(v.Rows, auditRow(e))
		}
		if page.Next != 0 {
			next := url.Values{}
			for k := range q {
				next.Set(k, q.Get(k))
			}
			next.Set("cursor", strconv.FormatInt(page.Next, 10))
			v.NextURL = "/audit?" + next.Encode()
		}
	}
	return Render(c, status, views.AuditPage(h.Shell(c, "Audit log", "audit"), v))
}

func auditRow(e model.AuditEvent) views.AuditRow {
	r := views.AuditRow{When: e.CreatedAt.UTC().Format("2006-01-02 15:04:05"), Actor: orDash(e.ActorEmail), Action: e.Action,
		Target: e.TargetLabel, Outcome: e.Outcome, IP: e.IP}
	if r.Target == "" {
		r.Target = e.TargetKind
	}
	if e.TokenID != nil {
		r.Token = "token " + strconv.FormatInt(*e.TokenID, 10)
	}
	return r
}

// Export downloads the filtered log of the active org.
func (h *Audit) Export(c echo.Context) error {
	return ExportAudit(c, h.Store, request.Workspace(c).Org)
}

// ExportAudit writes the audit log of org as CSV or JSON Lines; the page and
// the API share it.
func ExportAudit(c echo.Context, store *db.Store, org model.Org) error {
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		return model.InvalidField("format", "format must be csv or jsonl.")
	}
	f, err := ParseAuditFilter(c.QueryParams())
	if err != nil {
		return err
	}
	f.Before = 0
	res := c.Response()
	name := "audit-" + org.Slug + "-" + time.Now().UTC().Format("20060102") + "." + format
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		if format == "csv" {
			res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		} else {
			res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
		}
		res.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		res.WriteHeader(http.StatusOK)
	}
	cw := NewCSVWriter(res) // labels and emails are user text: no formulas

	enc := json.NewEncoder(res)
	header := []string{"id", "created_at", "actor_id", "actor_email", "token_id", "action", "target_kind", "target_id", "target_label", "outcome", "ip"}
	err = store.ExportAudit(c.Request().Context(), request.Actor(c), org.ID, f, format, func(e model.AuditEvent) error {
		if !started {
			start()
			if format == "csv" {
				if err := cw.Write(header); err != nil {
					return err
				}
			}
		}
		if format == "jsonl" {
			return enc.Encode(e)
		}
		return cw.Write([]string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339), idStr(e.ActorID), e.ActorEmail,
			idStr(e.TokenID), e.Action, e.TargetKind, e.TargetID, e.TargetLabel, e.Outcome, e.IP})
	})
	if err != nil {
		if started {
			c.Logger().Errorf("audit export: %v", err)
			return nil
		}
		return err
	}
	if !started {
		start()
		if format == "csv" {
			_ = cw.Write(header)
		}
	}
	cw.Flush()
	return cw.Error()
}

func idStr(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}
