package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"guildhall/db/dbtest"
	"guildhall/db/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Several servers starting at once on an empty database all come up: one
// migrates, the others wait for it and find nothing to do.
func TestConcurrentUp(t *testing.T) {
	dsn := dbtest.NewDSN(t)
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("migrate_race_%d", time.Now().UnixNano())
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	fresh := regexp.MustCompile(`dbname=\S+`).ReplaceAllString(dsn, "dbname="+name)
	if fresh == dsn {
		fresh = regexp.MustCompile(`/[^/?]+(\?|$)`).ReplaceAllString(dsn, "/"+name+"$1")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := sql.Open("postgres", fresh)
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			errs <- migrations.Up(context.Background(), d)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent start failed: %v", err)
		}
	}
	d, _ := sql.Open("postgres", fresh)
	defer d.Close()
	if pending, err := migrations.Pending(context.Background(), d); err != nil || pending {
		t.Fatalf("pending after concurrent starts: %v %v", pending, err)
	}
}
