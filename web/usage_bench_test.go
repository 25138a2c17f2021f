package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"

	"guildhall/web/metering"
	"guildhall/web/webtest"
)

// BenchmarkMeteringOverhead compares the same cheap authenticated routes
// with metering on and off in one run: requests alternate between the two,
// so drift on a shared machine hits both alike. Reported: ns per request
// each way and the overhead in percent. Run:
//
//	go test ./web -run '^$' -bench MeteringOverhead -benchtime 4000x
func BenchmarkMeteringOverhead(b *testing.B) {
	env := webtest.New(b)
	u := newUsageOrg(b, env, "bench", 1<<30)
	routes := []struct {
		name, path string
		api        *webtest.API
	}{
		// A token bound to the org: the org context comes from the token.
		{"bound-token/api-me", "/api/me", u.bot},
		// An unbound token naming the org in the path: resolved and cached.
		{"org-param/teams", "/api/orgs/bench/teams", u.owner},
	}
	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) {
			// In process (no client, no network), so the figure is the
			// server's own time.
			h := env.Server.Handler()
			req := func() time.Duration {
				r := httptest.NewRequest(http.MethodGet, rt.path, nil)
				r.Header.Set("Authorization", "Bearer "+rt.api.Token)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, r)
				d := time.Since(start)
				if w.Code != 200 {
					b.Fatalf("%s: %d", rt.path, w.Code)
				}
				return d
			}
			for i := 0; i < 50; i++ { // warm connections, caches and plans
				req()
			}
			var on, off []time.Duration
			n := 0
			for b.Loop() {
				env.Server.Meter().SetEnabled(n%2 == 0)
				if d := req(); n%2 == 0 {
					on = append(on, d)
				} else {
					off = append(off, d)
				}
				n++
			}
			env.Server.Meter().SetEnabled(true)
			// Medians: a busy machine's stalls hit single requests hard
			// and would swamp a mean.
			mOn, mOff := median(on), median(off)
			b.ReportMetric(float64(mOn.Nanoseconds()), "ns-p50/metered")
			b.ReportMetric(float64(mOff.Nanoseconds()), "ns-p50/unmetered")
			b.ReportMetric(100*(float64(mOn)-float64(mOff))/float64(max(mOff, 1)), "%overhead-p50")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = append([]time.Duration(nil), ds...)
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkMeterTake is the meter's own cost per request, in process.
func BenchmarkMeterTake(b *testing.B) {
	env := webtest.New(b)
	m := metering.New(env.Store, metering.Options{Interval: time.Hour})
	var org int64
	env.Store.DB().Get(&org, `INSERT INTO orgs (kind, slug, display_name, limit_monthly_requests) VALUES ('team', 'take', 'Take', 1000000000) RETURNING id`)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if d, err := m.Take(ctx, org, 7); err != nil || !d.Allowed {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Take(ctx, org, 7)
			}
		})
	})
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUsagePage renders /usage (and the usage API) server-side, in
// process, on a generated data set: one org with 1,000 agents and 90 days of
// requests for each (90,000 daily rows). It reports the p99 of the
// requests it timed. Run:
//
//	go test ./web -run '^$' -bench UsagePage -benchtime 300x
func BenchmarkUsagePage(b *testing.B) {
	env := webtest.New(b)
	c := env.SignUp("big@example.com", "Big")
	c.Post("/orgs", url.Values{"display_name": {"Big Org"}, "slug": {"big"}})
	var org int64
	sqlDB := env.Store.DB()
	sqlDB.Get(&org, `SELECT id FROM orgs WHERE slug = 'big'`)
	sqlDB.MustExec(`UPDATE orgs SET limit_agents = 2000 WHERE id = $1`, org)
	sqlDB.MustExec(`INSERT INTO agents (org_id, name) SELECT $1, 'Agent ' || g FROM generate_series(1, 1000) g`, org)
	today := env.Clock.Now().UTC().Truncate(24 * time.Hour)
	sqlDB.MustExec(`INSERT INTO usage_daily (org_id, day, agent_id, requests)
		SELECT $1, d::date, a.id, 1 + (a.id * 7 + extract(doy FROM d)::int * 13) % 200
		FROM agents a, generate_series($2::date - 89, $2::date, '1 day') d WHERE a.org_id = $1`, org, today.Format(time.DateOnly))
	// The rollups a flush keeps beside the daily rows.
	sqlDB.MustExec(`INSERT INTO usage_monthly (org_id, month, requests)
		SELECT org_id, date_trunc('month', day)::date, sum(requests) FROM usage_daily WHERE org_id = $1 GROUP BY 1, 2`, org)
	sqlDB.MustExec(`INSERT INTO usage_org_daily (org_id, day, requests)
		SELECT org_id, day, sum(requests) FROM usage_daily WHERE org_id = $1 GROUP BY 1, 2`, org)
	sqlDB.MustExec(`INSERT INTO usage_agent_monthly (org_id, month, agent_id, requests)
		SELECT org_id, date_trunc('month', day)::date, agent_id, sum(requests) FROM usage_daily WHERE org_id = $1 GROUP BY 1, 2, 3`, org)
	sqlDB.MustExec(`ANALYZE usage_daily; ANALYZE usage_monthly; ANALYZE usage_org_daily; ANALYZE usage_agent_monthly; ANALYZE agents`)
	c.Post("/workspace", url.Values{"org": {"big"}})
	u, _ := url.Parse(env.URL)
	cookies := c.HTTP.Jar.Cookies(u)
	api, _ := env.SignUpAPI("bigapi@example.com", "Big API")
	var apiID int64
	sqlDB.Get(&apiID, `SELECT id FROM accounts WHERE email = 'bigapi@example.com'`)
	sqlDB.MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member')`, org, apiID)
	env.Server.Meter().SetEnabled(false) // the page's cost alone
	h := env.Server.Handler()
	for _, tc := range []struct{ name, path string }{
		{"page/settings-for-reference", "/settings"},
		{"page/month", "/usage"},
		{"page/90-days", "/usage?start_date=" + today.AddDate(0, 0, -89).Format(time.DateOnly) + "&end_date=" + today.Format(time.DateOnly)},
		{"page/90-days-all-agents", "/usage?agents=all&start_date=" + today.AddDate(0, 0, -89).Format(time.DateOnly) + "&end_date=" + today.Format(time.DateOnly)},
		{"api/month", "/api/orgs/big/usage"},
		{"api/90-days", "/api/orgs/big/usage?start_date=" + today.AddDate(0, 0, -89).Format(time.DateOnly) + "&end_date=" + today.Format(time.DateOnly)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			do := func() time.Duration {
				r := httptest.NewRequest(http.MethodGet, tc.path, nil)
				if tc.name[:3] == "api" {
					r.Header.Set("Authorization", "Bearer "+api.Token)
				} else {
					for _, ck := range cookies {
						r.AddCookie(ck)
					}
				}
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, r)
				d := time.Since(start)
				if w.Code != 200 {
					b.Fatalf("%s: %d %s", tc.path, w.Code, w.Body.String()[:min(300, w.Body.Len())])
				}
				return d
			}
			for i := 0; i < 10; i++ {
				do()
			}
			var ds []time.Duration
			for b.Loop() {
				ds = append(ds, do())
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "ms-p99")
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "ms-p50")
		})
	}
}
