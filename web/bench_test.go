package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"guildhall/web/webtest"
)

// BenchmarkPages measures whole requests through the server (session,
// workspace resolution, queries, templ rendering) on a small org with 200
// audit events. Run: go test ./web -run '^$' -bench Pages.
func BenchmarkPages(b *testing.B) {
	env := webtest.New(b)
	c := env.SignUp("bench@example.com", "Bench")
	c.Post("/orgs", url.Values{"display_name": {"Bench Org"}, "slug": {"bench"}})
	for i := 0; i < 200; i++ {
		c.Post("/settings", url.Values{"display_name": {"Bench Org"}, "slug": {"bench"}, "description": {fmt.Sprint(i)}, "member_base_permission": {"none"}})
	}
	api, _ := env.SignUpAPI("api@example.com", "API")
	api.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "API Org", "slug": "api-org"})
	for _, p := range []string{"/", "/settings", "/audit"} {
		b.Run("page"+p, func(b *testing.B) {
			for b.Loop() {
				res, err := c.HTTP.Get(env.URL + p)
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("%s: %v %v", p, res, err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	// A load run: many clients at once on the overview (the busiest page),
	// each with its own session. ns/op is then the inverse of throughput.
	b.Run("parallel/overview", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			cl := env.NewClient()
			cl.HTTP.Jar = c.HTTP.Jar // same signed-in session
			for pb.Next() {
				res, err := cl.HTTP.Get(env.URL + "/")
				if err != nil || res.StatusCode != 200 {
					b.Errorf("overview under load: %v %v", res, err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	})
	b.Run("api/orgs", func(b *testing.B) {
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/orgs/api-org", nil)
			req.Header.Set("Authorization", "Bearer "+api.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("api: %v %v", res, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
