package pgembed

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// testDir returns a fresh folder that the postgres OS user can reach when we
// run as root (t.TempDir() cannot: its parent is 0700).
func testDir(t *testing.T) string {
	t.Helper()
	base := "/dev/shm"
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// start starts a cluster in dir. Only the first test runs initdb for real;
// the others copy its result, as package dbtest does (same cache folder).
func start(t *testing.T, dir string) *Cluster {
	t.Helper()
	o := Options{Dir: dir, Fast: true, Logf: t.Logf}
	if t.Name() != "TestStartStopRestart" {
		if cache, err := os.UserCacheDir(); err == nil {
			o.InitCache = filepath.Join(cache, "guildhall", "pgembed")
		}
	}
	t0 := time.Now()
	c, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start took %v", time.Since(t0))
	t.Cleanup(func() { c.Stop() })
	return c
}

func open(t *testing.T, c *Cluster, dbname string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", c.DSN(dbname))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStartStopRestart(t *testing.T) {
	dir := testDir(t)
	c := start(t, dir)
	if got, want := c.DataDir(), filepath.Join(dir, "pg"); got != want {
		t.Errorf("DataDir = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir(), "PG_VERSION")); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	if err := c.CreateDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "app"); err != nil {
		t.Fatalf("CreateDatabase is not idempotent: %v", err)
	}
	db := open(t, c, "app")
	if _, err := db.Exec(`CREATE TABLE kv (k text PRIMARY KEY, v text); INSERT INTO kv VALUES ('a', 'b')`); err != nil {
		t.Fatal(err)
	}
	var encoding, collate string
	if err := db.QueryRow(`SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = 'app'`).Scan(&encoding, &collate); err != nil {
		t.Fatal(err)
	}
	if encoding != "UTF8" || collate != "C" {
		t.Errorf("encoding %s, collate %s; want UTF8, C", encoding, collate)
	}
	db.Close()

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir(), "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after a clean stop: %v", err)
	}

	// Start again on the same folder: no initdb, data kept.
	c = start(t, dir)
	var v string
	if err := open(t, c, "app").QueryRow(`SELECT v FROM kv WHERE k = 'a'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "b" {
		t.Errorf("v = %q, want b", v)
	}
}

func TestSecondServerOnSameDirRefused(t *testing.T) {
	dir := testDir(t)
	start(t, dir)
	_, err := Start(context.Background(), Options{Dir: dir, Fast: true})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start: err = %v, want 'already running'", err)
	}
}

func TestStalePidFile(t *testing.T) {
	dir := testDir(t)
	c := start(t, dir)
	pidFile := filepath.Join(c.DataDir(), "postmaster.pid")

	// A crash: the postmaster dies without cleaning up.
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("expected a stale postmaster.pid after the crash: %v", err)
	}
	c = start(t, dir)
	if err := open(t, c, "postgres").Ping(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// A pid file whose pid belongs to no process (or to one that is not
	// our server, such as a recycled pid).
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{dead.Process.Pid, os.Getpid()} {
		stale := strconv.Itoa(pid) + "\n" + c.DataDir() + "\n1700000000\n5432\n" + c.SocketDir() + "\n\n  5432001  12345\nready\n"
		if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
			t.Fatal(err)
		}
		c = start(t, dir)
		if err := open(t, c, "postgres").Ping(); err != nil {
			t.Fatal(err)
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLongPathSocketFallback(t *testing.T) {
	dir := filepath.Join(testDir(t), strings.Repeat("a-long-folder-name-", 5))
	c := start(t, dir)
	if c.SocketDir() == c.DataDir() {
		t.Fatalf("socket dir %s should have moved out of the long data dir", c.SocketDir())
	}
	if len(c.SocketDir())+1+len(socketName) > maxSocketPath {
		t.Fatalf("socket dir %s is still too long", c.SocketDir())
	}
	rec, err := os.ReadFile(filepath.Join(dir, "pg.socketdir"))
	if err != nil || strings.TrimSpace(string(rec)) != c.SocketDir() {
		t.Errorf("pg.socketdir = %q, %v; want %s", rec, err, c.SocketDir())
	}
	t.Cleanup(func() { os.RemoveAll(c.SocketDir()) })
	if err := open(t, c, "postgres").Ping(); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableDir(t *testing.T) {
	parent := testDir(t)
	closed := filepath.Join(parent, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(closed, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	// Someone who is neither the owner nor in the group.
	other := &syscall.Credential{Uid: 54321, Gid: 54321}
	err := checkTraversable(data, other)
	if err == nil || !strings.Contains(err.Error(), "cannot enter "+closed) {
		t.Fatalf("err = %v, want a 'cannot enter' error", err)
	}
	// Start itself then falls back to a reachable folder: see
	// TestUnreachableDataDirFallsBack.
	// Our own data folder (the last element) is opened up, not refused.
	if err := os.Chmod(closed, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := checkTraversable(data, other); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(data)
		if fi.Mode().Perm()&0o001 == 0 {
			t.Errorf("data folder mode %v, want o+x", fi.Mode().Perm())
		}
	}
}

func TestQuoteDSN(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/x":      "/tmp/x",
		"/tmp/a b":    `'/tmp/a b'`,
		`/tmp/it's`:   `'/tmp/it\'s'`,
		"":            "''",
		`/tmp/back\s`: `'/tmp/back\\s'`,
	} {
		if got := quoteDSN(in); got != want {
			t.Errorf("quoteDSN(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestInitCache(t *testing.T) {
	cache := filepath.Join(testDir(t), "cache")
	for i := range 2 {
		dir := testDir(t)
		t0 := time.Now()
		c, err := Start(context.Background(), Options{Dir: dir, Fast: true, InitCache: cache, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("start %d took %v", i, time.Since(t0))
		if err := open(t, c, "postgres").Ping(); err != nil {
			t.Fatal(err)
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(cache)
	if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "initdb-") {
		t.Fatalf("cache entries %v, %v; want one initdb-*", entries, err)
	}
}

// As root, a data folder the postgres user cannot reach (a clone under
// /root, or t.TempDir with its 0700 parent) still works: the cluster moves to
// a reachable folder named after the data folder, recorded in pg.location.
func TestUnreachableDataDirFallsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // the parent of t.TempDir() is 0700
	o := Options{Dir: dir, Fast: true, Logf: t.Logf}
	if cache, err := os.UserCacheDir(); err == nil {
		o.InitCache = filepath.Join(cache, "guildhall", "pgembed")
	}
	c, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if b, err := os.ReadFile(filepath.Join(dir, "pg.location")); err == nil {
			os.RemoveAll(strings.TrimSpace(string(b)))
		}
	})
	db := open(t, c, "postgres")
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	loc, err := os.ReadFile(filepath.Join(dir, "pg.location"))
	if os.Geteuid() != 0 {
		if err == nil {
			t.Fatalf("not root, yet the cluster moved to %s", loc)
		}
		return
	}
	if err != nil || !strings.HasPrefix(c.DataDir(), strings.TrimSpace(string(loc))) {
		t.Fatalf("pg.location %q (%v), cluster in %s", loc, err, c.DataDir())
	}
}
