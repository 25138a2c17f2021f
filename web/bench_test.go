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
