package dbtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestMain(m *testing.M) { Main(m) }

// names collects the database of each parallel test, to check they differ.
var names sync.Map

func TestSeparateDatabases(t *testing.T) {
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			db := New(t)
			var name string
			if err := db.Get(&name, "SELECT current_database()"); err != nil {
				t.Fatal(err)
			}
			if other, dup := names.LoadOrStore(name, i); dup {
				t.Fatalf("tests %v and %d share database %s", other, i, name)
			}
			// The migrated schema is there, and empty.
			var n int
			if err := db.Get(&n, "SELECT count(*) FROM accounts"); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("accounts has %d rows in a fresh database", n)
			}
			// Writes stay in this test's database.
			if _, err := db.Exec("CREATE TABLE scratch (v int)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("INSERT INTO scratch VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
			var v int
			if err := db.Get(&v, "SELECT v FROM scratch"); err != nil || v != i {
				t.Fatalf("scratch = %d, %v; want %d", v, err, i)
			}
		})
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		db := New(t)
		if err := db.Get(&name, "SELECT current_database()"); err != nil {
			t.Fatal(err)
		}
	})
	var exists bool
	if err := env.admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after its test", name)
	}
}

func TestManyParallelClones(t *testing.T) {
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			t0 := time.Now()
			db := New(t)
			t.Logf("clone took %v", time.Since(t0))
			if err := db.Ping(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDSNFunc(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p@h:5433/main?sslmode=disable", "postgres://u:p@h:5433/t_1?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/t_1"},
		{"host=/tmp user=x dbname=main", "host=/tmp user=x dbname=main dbname=t_1"},
	} {
		f, err := dsnFunc(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := f("t_1"); got != tc.want {
			t.Errorf("dsnFunc(%q)(t_1) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkClone(b *testing.B) {
	e, err := setup()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("bench_%d_%s", i, randomHex(4))
		if err := e.clone(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := e.admin.Exec("DROP DATABASE " + pq.QuoteIdentifier(name)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
