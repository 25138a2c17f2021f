package db_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/migrations"
	"guildhall/db/model"
	"guildhall/db/pgembed"
)

// The hot-wallet benchmark (issue 9, item 10) runs on a disk-backed,
// durable cluster (fsync on): on the tests' tmpfs cluster a commit costs
// nothing and group commit would look pointless. Run it with
//
//	go test ./db -run '^$' -bench Wallet -benchtime 4000x
//
// It reports purchases per second and the p99 latency of 64 concurrent
// buyers: (a) one wallet with group commit, (b) 64 wallets with group
// commit, (c) one wallet with one transaction per purchase.

type walletBench struct {
	grouped, naive *db.Store
	hot            int64
	cold           []int64
	buyers         []model.Actor
	vendor         int64
	publisher      int64
	runs           atomic.Int64
}

func startBenchCluster(b *testing.B) string {
	b.Helper()
	base := os.Getenv("WALLET_BENCH_DIR") // a folder on the disk to measure; default /var/tmp
	if base == "" {
		base = "/var/tmp"
	}
	dir, err := os.MkdirTemp(base, "guildhall-walletbench-")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	logMS := os.Getenv("WALLET_BENCH_LOGMS") // log statements slower than this many ms
	if logMS == "" {
		logMS = "-1"
	}
	c, err := pgembed.Start(ctx, pgembed.Options{Dir: dir, Settings: map[string]string{"max_connections": "200", "log_min_duration_statement": logMS}})
	if err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = c.Stop()
		if os.Getenv("WALLET_BENCH_KEEP") == "" {
			os.RemoveAll(dir)
		} else {
			b.Log(c.LogPath())
		}
	})
	if err := c.CreateDatabase(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	return c.DSN("bench")
}

func newWalletBench(b *testing.B) *walletBench {
	b.Helper()
	ctx := context.Background()
	dsn := startBenchCluster(b)
	sdb, err := db.Open(ctx, dsn, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sdb.Close() })
	if err := migrations.Up(ctx, sdb.DB); err != nil {
		b.Fatal(err)
	}
	e := &walletBench{grouped: db.New(sdb, db.WithFastPasswordHashing()), naive: db.New(sdb, db.WithGroupCommit(false))}
	s := e.grouped
	owner, err := s.Signup(ctx, model.Actor{}, db.SignupInput{Email: "owner@bench.test", Name: "Owner", Password: "long-enough-password"})
	if err != nil {
		b.Fatal(err)
	}
	oa := model.Actor{AccountID: owner.ID, Email: owner.Email}
	e.publisher = owner.ID
	newOrg := func(slug string) int64 {
		ws, err := s.CreateOrg(ctx, oa, db.CreateOrgInput{DisplayName: slug, Slug: slug})
		if err != nil {
			b.Fatal(err)
		}
		return ws.ID
	}
	e.vendor = newOrg("vendor")
	e.hot = newOrg("hot")
	for i := 0; i < 64; i++ {
		e.cold = append(e.cold, newOrg("cold-"+strconv.Itoa(i)))
	}
	for _, org := range append([]int64{e.hot}, e.cold...) {
		if _, _, err := s.TopUp(ctx, oa, org, 50_000_000_000, ""); err != nil {
			b.Fatal(err)
		}
		// A policy with room, so the counters are part of every purchase.
		if _, err := s.CreatePolicy(ctx, oa, org, db.PolicyInput{Name: ptrTo("Bench"), DailyLimitCents: ptrTo[int64](90_000_000_000), MaxPerPurchaseCents: ptrTo[int64](1000)}); err != nil {
			b.Fatal(err)
		}
	}
	sdb.MustExec(`INSERT INTO accounts (email, name) SELECT 'buyer' || i || '@bench.test', 'Buyer ' || i FROM generate_series(0, 63) i`)
	var ids []int64
	if err := sdb.Select(&ids, `SELECT id FROM accounts WHERE email LIKE 'buyer%' ORDER BY email`); err != nil {
		b.Fatal(err)
	}
	for i, id := range ids {
		e.buyers = append(e.buyers, model.Actor{AccountID: id, Email: fmt.Sprintf("buyer%d@bench.test", i)})
		sdb.MustExec(`INSERT INTO memberships (org_id, account_id, role) VALUES ($1, $2, 'member'), ($3, $2, 'member')`, e.hot, id, e.cold[i])
	}
	return e
}

func ptrTo[T any](v T) *T { return &v }

// packages lists n fresh public packages of 1 cent (entitlements are per
// org and package, so every purchase needs a package of its own).
func (e *walletBench) packages(b *testing.B, n int) []string {
	b.Helper()
	run := e.runs.Add(1)
	prefix := "r" + strconv.FormatInt(run, 10) + "-"
	e.grouped.DB().MustExec(`INSERT INTO packages (org_id, publisher_id, slug, name, type, price_cents, visibility)
		SELECT $1, $2, $3 || g, 'Bench ' || g, 'skill', 1, 'public' FROM generate_series(1, $4) g`, e.vendor, e.publisher, prefix, n)
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}

// run has 64 buyers make b.N purchases between them; wallet picks the wallet
// of buyer g. It reports purchases per second and the p99 latency.
func (e *walletBench) run(b *testing.B, s *db.Store, wallet func(g int) int64) {
	pkgs := e.packages(b, b.N)
	ctx := context.Background()
	var next atomic.Int64
	lat := make([][]time.Duration, 64)
	var wg sync.WaitGroup
	var failed atomic.Value
	batches0, buys0, _ := s.GroupCommitStats()
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				_, _, err := s.Buy(ctx, e.buyers[g], db.BuyInput{OrgID: wallet(g), PackageRef: pkgs[i], Key: "k-" + pkgs[i]})
				lat[g] = append(lat[g], time.Since(t0))
				if err != nil {
					failed.Store(err)
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
	p99 := all[len(all)*99/100]
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "buys/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	if batches, buys, _ := s.GroupCommitStats(); batches > batches0 {
		b.ReportMetric(float64(buys-buys0)/float64(batches-batches0), "buys/batch")
	}
}

func BenchmarkWallet(b *testing.B) {
	e := newWalletBench(b)
	b.Run("a-one-wallet-group-commit", func(b *testing.B) { e.run(b, e.grouped, func(int) int64 { return e.hot }) })
	b.Run("b-64-wallets-group-commit", func(b *testing.B) { e.run(b, e.grouped, func(g int) int64 { return e.cold[g] }) })
	b.Run("c-one-wallet-naive", func(b *testing.B) { e.run(b, e.naive, func(int) int64 { return e.hot }) })
	if err := e.grouped.CheckLedger(context.Background()); err != nil {
		b.Fatal(err)
	}
}
