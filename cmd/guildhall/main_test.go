package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"guildhall/db/demo"
	"guildhall/web"
)

// dataDir is a folder the postgres OS user can reach when we run as root.
func dataDir(t *testing.T) string {
	t.Helper()
	base := "/dev/shm"
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "guildhall-serve-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// run starts `guildhall serve` in-process on a port the system picks and
// waits until /healthz answers there.
func run(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	bound := make(chan string, 1)
	go func() {
		done <- serveOn(ctx, []string{"-addr", "127.0.0.1:0"}, func(a net.Addr) { bound <- a.String() })
	}()
	deadline := time.Now().Add(90 * time.Second)
	select {
	case addr = <-bound:
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v", err)
	case <-time.After(time.Until(deadline)):
		cancel()
		t.Fatal("serve did not listen")
	}
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("serve did not become healthy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
}

// The first README command (`go tool task run`: demo, then serve): serve
// creates and starts an embedded cluster and, in production, never loads the
// demo (an empty database has no accounts); `guildhall demo` loads it once;
// serve stops the cluster on shutdown and reuses it next time.
func TestServeEmbeddedClusterAndDemo(t *testing.T) {
	dir := dataDir(t)
	t.Setenv("GUILDHALL_DATA", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("SMTP_URL", "")
	t.Setenv("GUILDHALL_DEV", "")
	// A small pool, as an operator running many servers on one database
	// sets it: every step below runs within it.
	t.Setenv("GUILDHALL_DB_MAX_CONNS", "3")
	addr, stop := run(t)
	if res, err := http.Get("http://" + addr + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", res, err)
	}
	// A production serve on an empty database: no demo account to sign in to.
	signIn := fmt.Sprintf(`{"email": "ada@example.com", "password": %q}`, demo.Password)
	first, err := http.Post("http://"+addr+"/api/auth/token", "application/json", strings.NewReader(signIn))
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if first.StatusCode != http.StatusUnauthorized {
		t.Fatalf("demo sign-in on a fresh production serve: %d, want 401", first.StatusCode)
	}
	stop()
	if n := countAccounts(t); n != 0 {
		t.Fatalf("a fresh production serve has %d accounts", n)
	}

	// `guildhall demo` (as `go tool task run` does before serve) loads it.
	if err := runDemo(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	addr, stop = run(t)
	token := demoToken(t, addr)
	if token == "" {
		t.Fatal("demo sign-in did not give a token")
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "pg", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("the cluster is still running after shutdown (postmaster.pid: %v)", err)
	}
	secret, err := os.ReadFile(filepath.Join(dir, "secret"))
	if err != nil || len(strings.TrimSpace(string(secret))) < 32 {
		t.Fatalf("generated secret not kept: %v", err)
	}

	// Second start: same cluster, same data, demo not loaded twice.
	addr, stop = run(t)
	defer stop()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/orgs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("orgs after restart: %d %v", res.StatusCode, err)
	}
	if len(body.Data) < 2 {
		t.Fatalf("demo orgs after restart: %v", body.Data)
	}
	if again := demoToken(t, addr); again == "" {
		t.Fatal("demo account missing after restart")
	}
}

// countAccounts opens the (stopped) embedded cluster and counts accounts.
// The pool it opens is the one serve opens: capped by GUILDHALL_DB_MAX_CONNS.
func countAccounts(t *testing.T) int {
	t.Helper()
	var n int
	err := withDB(context.Background(), nil, func(_ web.Config, d *sqlx.DB) error {
		if got, want := d.Stats().MaxOpenConnections, 3; got != want {
			t.Errorf("the pool opens at most %d connections, want GUILDHALL_DB_MAX_CONNS's %d", got, want)
		}
		return d.Get(&n, `SELECT count(*) FROM accounts`)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func demoToken(t *testing.T, addr string) string {
	t.Helper()
	body := fmt.Sprintf(`{"email": "ada@example.com", "password": %q}`, demo.Password)
	res, err := http.Post("http://"+addr+"/api/auth/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 201 {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return out.Data.Token
}
