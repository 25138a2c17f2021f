package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guildhall/web/webtest"
)

// BenchmarkWalletHTTP: 64 HTTP clients buy through POST /api/packages/{id}/buy
// on one org wallet, and on 64 wallets (one each), against the whole server
// (the tests' database: see db's BenchmarkWallet for the disk-backed one).
//
//	go test ./web -run '^$' -bench WalletHTTP -benchtime 2000x
func BenchmarkWalletHTTP(b *testing.B) {
	env := webtest.New(b, webtest.Options{SignInLimit: 10000})
	owner, _ := env.SignUpAPI("owner@bench.test", "Owner")
	orgs := make([]string, 65)
	for i := range orgs {
		slug := "w-" + strconv.Itoa(i)
		if r := owner.Do(http.MethodPost, "/api/orgs", map[string]any{"display_name": "Wallet " + strconv.Itoa(i), "slug": slug}); r.Status != 201 {
			b.Fatal(r.Raw)
		}
		owner.Do(http.MethodPost, "/api/orgs/"+slug+"/wallet/top-up", map[string]any{"amount_cents": 50_000_000_000})
		orgs[i] = slug
	}
	tokens := make([]string, 64)
	for i := range tokens {
		api, id := env.SignUpAPI(fmt.Sprintf("buyer%d@bench.test", i), "Buyer "+strconv.Itoa(i))
		tokens[i] = api.Token
		env.Store.DB().MustExec(`INSERT INTO memberships (org_id, account_id, role)
			SELECT id, $1, 'member' FROM orgs WHERE slug IN ('w-0', $2)`, id, orgs[i+1])
	}
	var vendor int64
	_ = env.Store.DB().Get(&vendor, `SELECT id FROM orgs WHERE slug = 'w-0'`)
	var runs atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	run := func(b *testing.B, org func(g int) string) {
		prefix := "h" + strconv.FormatInt(runs.Add(1), 10) + "-"
		env.Store.DB().MustExec(`INSERT INTO packages (org_id, slug, name, type, price_cents, visibility)
			SELECT $1, $2 || g, 'Bench ' || g, 'skill', 1, 'public' FROM generate_series(1, $3) g`, vendor, prefix, b.N)
		var next atomic.Int64
		lat := make([][]time.Duration, 64)
		var failed atomic.Value
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				body := []byte(`{"org":"` + org(g) + `"}`)
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/packages/"+prefix+strconv.FormatInt(i, 10)+"/buy", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+tokens[g])
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					res, err := client.Do(req)
					lat[g] = append(lat[g], time.Since(t0))
					if err != nil {
						failed.Store(err)
						return
					}
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						failed.Store(fmt.Errorf("buy answered %d", res.StatusCode))
						return
					}
				}
			}(g)
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "buys/s")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("one-wallet", func(b *testing.B) { run(b, func(int) string { return "w-0" }) })
	b.Run("64-wallets", func(b *testing.B) { run(b, func(g int) string { return orgs[g+1] }) })
}
