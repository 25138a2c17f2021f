package db

import (
	"context"
	"testing"
	"time"

	"guildhall/db/dbtest"
	"guildhall/db/model"
)

// TestTransactionsUseCachedStatements: a statement a transaction runs goes
// into the statement cache in the background, and later transactions run it
// as the connection's prepared statement. On a pool of one connection the
// first transaction must still finish: a miss never waits for a second
// connection (the background prepare waits for the transaction's to come
// back instead).
func TestTransactionsUseCachedStatements(t *testing.T) {
	sqlDB := dbtest.New(t)
	sqlDB.SetMaxOpenConns(1)
	s := New(sqlDB)
	ctx := context.Background()
	const q = `SELECT $1::int + 40 AS answer`
	run := func(arg int) (answer int, preparedHere int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := s.InTx(ctx, model.Actor{}, func(tx *Tx) error {
			if err := tx.GetContext(ctx, &answer, q, arg); err != nil {
				return err
			}
			// No arguments: this one runs unprepared, on the same connection.
			return tx.GetContext(ctx, &preparedHere, `SELECT count(*) FROM pg_prepared_statements WHERE statement = '`+q+`'`)
		})
		if err != nil {
			t.Fatalf("transaction with %d: %v", arg, err)
		}
		return answer, preparedHere
	}
	if got, here := run(1); got != 41 || here != 0 {
		t.Fatalf("first run: answer %d, prepared on the connection %d times; want 41, 0", got, here)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.db.cached(q) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the statement never reached the cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, here := run(2); got != 42 || here != 1 {
		t.Fatalf("after caching: answer %d, prepared on the connection %d times; want 42, 1", got, here)
	}
	var n int
	if err := sqlDB.Get(&n, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%answer%'`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the one connection holds %d prepared copies of the statement, want 1", n)
	}
}

// TestTransactionStatementThatDoesNotPrepareElsewhere: a statement that only
// makes sense inside its transaction (a temporary table of its own) fails to
// prepare on the pool; it keeps running unprepared, and stays marked, so it
// is not tried again on every call.
func TestTransactionStatementThatDoesNotPrepareElsewhere(t *testing.T) {
	sqlDB := dbtest.New(t)
	s := New(sqlDB)
	ctx := context.Background()
	const q = `INSERT INTO only_here (x) VALUES ($1)`
	for i := range 3 {
		err := s.InTx(ctx, model.Actor{}, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, `CREATE TEMPORARY TABLE only_here (x int) ON COMMIT DROP`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, q, i)
			return err
		})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if s.db.prepared(ctx, q) != nil {
		t.Fatal("the statement prepared outside its transaction; the test needs one that does not")
	}
	time.Sleep(200 * time.Millisecond) // the background attempt has failed by now
	if _, marked := s.db.preparing.Load(q); !marked {
		t.Error("a statement that cannot prepare on the pool is not marked: each call would try again")
	}
	if s.db.cached(q) != nil {
		t.Error("a statement that cannot prepare on the pool reached the cache")
	}
}

// TestPrepareSoonTriesAgainAfterItsOwnFailure: a background prepare that
// failed for want of a connection (here: a closed pool), not because
// PostgreSQL refused the statement, leaves it unmarked, so a later miss
// tries again.
func TestPrepareSoonTriesAgainAfterItsOwnFailure(t *testing.T) {
	sqlDB := dbtest.New(t)
	h := newHandle(sqlDB)
	sqlDB.Close()
	const q = `SELECT $1::int + 1`
	h.prepareSoon(q)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, marked := h.preparing.Load(q)
		if !marked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a prepare that failed on a closed pool left the statement marked: it would never be cached")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if h.cached(q) != nil {
		t.Error("a statement reached the cache through a closed pool")
	}
}
