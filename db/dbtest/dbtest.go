// Package dbtest gives each test a fresh PostgreSQL database, cloned from a
// template database migrated once per test binary.
//
// By default every test binary starts its own embedded cluster (package
// pgembed) in a folder under /dev/shm. With TEST_DATABASE_URL set, that
// server is used instead (the template is created there, and shared by
// concurrent test processes under an advisory lock).
//
// A package using dbtest calls Main from its TestMain, so that the cluster is
// stopped and its folder removed when the tests end:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// (Without it the server still stops when the test process exits, and the
// next run removes the folder.) A pristine initdb result is cached under the
// user's cache folder, so a test binary starts its cluster in about 0.3 s.
// DBTEST_VERBOSE=1 prints the cluster's start-up and migration times.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"guildhall/db/migrations"
	"guildhall/db/pgembed"
)

// TemplateName is the database every test database is cloned from.
const TemplateName = "guildhall_template"

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "TEST_DATABASE_URL"

// lockKey is the advisory lock (an arbitrary constant) that serializes
// template migrations against clones when several processes share a server.
const lockKey = 0x6775696c64 // "guild"

var (
	setupOnce sync.Once
	env       *environment
	setupErr  error
	counter   atomic.Int64
)

type environment struct {
	dsn     func(dbname string) string // DSN for a database on the server
	admin   *sql.DB                    // connected to the maintenance database
	cluster *pgembed.Cluster           // nil with TEST_DATABASE_URL
	dir     string                     // the cluster's folder, removed at the end

	// strategy is the CREATE DATABASE option for clones: from PostgreSQL 15
	// on, copying the files is faster (~15 ms against ~20 ms) than the
	// default, which writes the template's every page to the WAL.
	strategy string
}

// Main runs the tests, then stops the cluster and removes its folder, then
// exits. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// New returns a connection pool to a fresh, migrated database that is
// dropped when the test ends.
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	dsn := NewDSN(t)
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	// Idle connections are kept as the server keeps them (db.ConfigurePool):
	// with database/sql's default of two, a test's concurrent goroutines
	// started a PostgreSQL backend for most of their statements.
	db.SetMaxIdleConns(20)
	// Registered after NewDSN's cleanup, so it runs first: close the pool
	// before the database is dropped.
	t.Cleanup(func() { db.Close() })
	return db
}

// NewDSN creates a fresh, migrated database and returns its lib/pq
// connection string; the database is dropped when the test ends.
func NewDSN(t testing.TB) string {
	t.Helper()
	e, err := setup()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	name := fmt.Sprintf("t_%d_%s", counter.Add(1), randomHex(4))
	ctx := context.Background()
	t0 := time.Now()
	if err := e.clone(ctx, name); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Logf("dbtest: cloning the template took %v", d)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a server goroutine the test left running may still hold
		// connections.
		if _, err := e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return e.dsn(name)
}

func (e *environment) clone(ctx context.Context, name string) error {
	conn, err := e.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Shared: clones run in parallel, but never while a process migrates
	// the template (a clone fails if anyone is connected to its source).
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock_shared($1)", lockKey); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock_shared($1)", lockKey)
	_, err = conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE "+TemplateName+e.strategy)
	return err
}

func setup() (*environment, error) {
	setupOnce.Do(func() {
		env, setupErr = start()
		if setupErr != nil && env != nil {
			env.close()
		}
	})
	return env, setupErr
}

func start() (*environment, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := &environment{}
	if u := os.Getenv(EnvURL); u != "" {
		dsn, err := dsnFunc(u)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvURL, err)
		}
		e.dsn = dsn
	} else {
		t0 := time.Now()
		removeLeftovers()
		dir, err := os.MkdirTemp(shmDir(), fmt.Sprintf("guildhall-dbtest-%d-", os.Getpid()))
		if err != nil {
			return nil, err
		}
		e.dir = dir
		// As root, postgres runs as the postgres user, who must enter it.
		if err := os.Chmod(dir, 0o755); err != nil {
			return e, err
		}
		e.cluster, err = pgembed.Start(ctx, pgembed.Options{
			Dir:       dir,
			Fast:      true,
			InitCache: initCache(),
			Settings:  map[string]string{"max_connections": "200"},
		})
		if err != nil {
			return e, err
		}
		e.dsn = e.cluster.DSN
		if os.Getenv("DBTEST_VERBOSE") != "" {
			fmt.Fprintf(os.Stderr, "dbtest: cluster in %s started in %v\n", dir, time.Since(t0))
		}
	}
	admin, err := sql.Open("postgres", e.dsn("postgres"))
	if err != nil {
		return e, err
	}
	e.admin = admin
	var version int
	if err := admin.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return e, err
	}
	if version >= 150000 {
		e.strategy = " STRATEGY FILE_COPY"
	}
	t0 := time.Now()
	if err := e.prepareTemplate(ctx); err != nil {
		return e, fmt.Errorf("template %s: %w", TemplateName, err)
	}
	if os.Getenv("DBTEST_VERBOSE") != "" {
		fmt.Fprintf(os.Stderr, "dbtest: template %s migrated in %v\n", TemplateName, time.Since(t0))
	}
	return e, nil
}

// prepareTemplate creates the template database if needed and migrates it,
// holding the advisory lock exclusively.
func (e *environment) prepareTemplate(ctx context.Context) error {
	conn, err := e.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)

	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", TemplateName).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+TemplateName); err != nil {
			return err
		}
	}
	tdb, err := sql.Open("postgres", e.dsn(TemplateName))
	if err != nil {
		return err
	}
	err = migrations.Up(ctx, tdb)
	tdb.Close()
	if err != nil {
		return err
	}
	// Closing the pool does not wait for the server's backends to exit, and
	// CREATE DATABASE ... TEMPLATE refuses while any session is connected.
	for {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", TemplateName).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d sessions still connected: %w", n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func shutdown() error {
	if env == nil {
		return nil
	}
	return env.close()
}

func (e *environment) close() error {
	var errs []error
	if e.admin != nil {
		errs = append(errs, e.admin.Close())
	}
	if e.cluster != nil {
		errs = append(errs, e.cluster.Stop())
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// dsnFunc turns a server's connection string (URL or key=value form) into a
// function giving the connection string of one of its databases.
func dsnFunc(s string) (func(string) string, error) {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		return func(db string) string {
			v := *u
			v.Path = "/" + db
			v.RawPath = ""
			return v.String()
		}, nil
	}
	// In key=value form, a later key wins.
	return func(db string) string { return s + " dbname=" + db }, nil
}

func shmDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// initCache is where pgembed keeps a pristine initdb result, so that each
// test binary copies it (~70 ms) instead of running initdb (seconds).
func initCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "guildhall", "pgembed")
	}
	return filepath.Join(os.TempDir(), "guildhall-pgembed-cache")
}

// removeLeftovers removes the folders of test processes that died without
// calling Main (their servers stopped when they died).
func removeLeftovers() {
	dirs, _ := filepath.Glob(filepath.Join(shmDir(), "guildhall-dbtest-*"))
	for _, dir := range dirs {
		parts := strings.SplitN(filepath.Base(dir), "-", 4)
		if len(parts) != 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // still running
		}
		if b, err := os.ReadFile(filepath.Join(dir, "pg", "postmaster.pid")); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
				if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
					continue // its server is still shutting down
				}
			}
		}
		os.RemoveAll(dir)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
