package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/model"
	"guildhall/web/webtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestCrashChild is the server process of TestKillDuringPurchases: it runs
// only when that test starts this binary again with GUILDHALL_CRASH_CHILD.
func TestCrashChild(t *testing.T) {
	if os.Getenv("GUILDHALL_CRASH_CHILD") != "1" {
		t.Skip("runs as the child of TestKillDuringPurchases")
	}
	if err := serve(context.Background(), []string{"-addr", os.Getenv("GUILDHALL_ADDR")}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// startChild starts `guildhall serve` on dsn in another process and waits
// for /healthz.
//
// The child binds a port the system picks and the parent reads it from the
// child's log ("listening on ..."): a port picked here and freed for the
// child could be taken meanwhile by another package's test server, whose
// /healthz then answered for a child that had failed to start, and the
// burst went to the wrong server.
func startChild(t *testing.T, dsn, data string) (*exec.Cmd, *webtest.SyncBuffer, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GUILDHALL_CRASH_CHILD=1", "DATABASE_URL="+dsn, "GUILDHALL_ADDR=127.0.0.1:0", "GUILDHALL_DATA="+data)
	logs := &webtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := listeningRe.FindStringSubmatch(logs.String()); m != nil {
			addr := m[1]
			res, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return cmd, logs, addr
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var listeningRe = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// TestKillDuringPurchases kills the server with SIGKILL during a burst of
// purchases, starts it again, and checks that the ledger's invariants hold
// and that every purchase answered 201 is in the ledger (and nothing else).
func TestKillDuringPurchases(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	dsn := dbtest.NewDSN(t)
	sdb, err := db.Open(ctx, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	s := db.New(sdb, db.WithFastPasswordHashing())
	acc, err := s.Signup(ctx, model.Actor{IP: "127.0.0.1"}, db.SignupInput{Email: "olive@example.com", Name: "Olive", Password: "long-enough-password"})
	if err != nil {
		t.Fatal(err)
	}
	owner := model.Actor{AccountID: acc.ID, Email: acc.Email}
	ws, err := s.CreateOrg(ctx, owner, db.CreateOrgInput{DisplayName: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	const packages = 400
	const start = packages * 100 / 2 // enough for half of them
	if _, _, err := s.TopUp(ctx, owner, ws.ID, start, ""); err != nil {
		t.Fatal(err)
	}
	sdb.MustExec(`INSERT INTO packages (org_id, publisher_id, slug, name, type, price_cents, visibility)
		SELECT $1, $2, 'p-' || g, 'Package ' || g, 'skill', 100, 'org_only' FROM generate_series(1, $3) g`, ws.ID, acc.ID, packages)
	secret, _, err := s.CreateToken(ctx, owner, db.CreateTokenInput{Name: "burst", Scopes: []string{"read", "write", "purchase"}})
	if err != nil {
		t.Fatal(err)
	}

	data := dataDir(t)
	child, childLogs, addr := startChild(t, dsn, data)

	type answer struct {
		slug string
		txn  int64
	}
	var mu sync.Mutex
	var ok []answer
	var wg sync.WaitGroup
	killed := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	buy := func(slug string) (int, int64) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/packages/"+slug+"/buy", bytes.NewReader([]byte(`{"org":"acme"}`)))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Idempotency-Key", "crash-"+slug)
		res, err := client.Do(req)
		if err != nil {
			return 0, 0
		}
		defer res.Body.Close()
		var env struct {
			Data struct {
				Purchase struct {
					Txn *int64 `json:"transaction_id"`
				} `json:"purchase"`
			} `json:"data"`
		}
		_ = json.NewDecoder(res.Body).Decode(&env)
		if env.Data.Purchase.Txn != nil {
			return res.StatusCode, *env.Data.Purchase.Txn
		}
		return res.StatusCode, 0
	}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < packages; i += 16 {
				select {
				case <-killed:
					return
				default:
				}
				slug := "p-" + strconv.Itoa(i+1)
				if code, txn := buy(slug); code == http.StatusCreated {
					mu.Lock()
					ok = append(ok, answer{slug, txn})
					mu.Unlock()
				}
			}
		}(w)
	}
	// Kill once some purchases went through, mid-burst. If the burst ends
	// first (every purchase refused, or the server gone), say so with the
	// server's output instead of waiting for ever.
	burstDone := make(chan struct{})
	go func() { wg.Wait(); close(burstDone) }()
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		n := len(ok)
		mu.Unlock()
		if n >= 40 {
			break
		}
		select {
		case <-burstDone:
			t.Fatalf("the burst ended with %d purchases answered 201, before the kill; the server said:\n%s", n, childLogs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d purchases answered 201 in a minute; the server said:\n%s", n, childLogs)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := syscall.Kill(-child.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	wg.Wait()
	_ = child.Wait()
	if len(ok) >= packages/2 {
		t.Fatalf("the burst ended before the kill (%d purchases)", len(ok))
	}

	// The server comes back on the same database.
	_, _, addr = startChild(t, dsn, data)
	if err := s.CheckLedger(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range ok {
		var n int
		_ = sdb.Get(&n, `SELECT count(*) FROM ledger_entries e JOIN packages p ON p.id = e.package_id
			WHERE e.txn_id = $1 AND p.slug = $2 AND e.kind = 'purchase'`, a.txn, a.slug)
		if n != 1 {
			t.Fatalf("purchase of %s answered 201 (transaction %d) but is not in the ledger", a.slug, a.txn)
		}
	}
	var purchases, balance int64
	_ = sdb.Get(&purchases, `SELECT count(*) FROM purchases WHERE org_id = $1`, ws.ID)
	_ = sdb.Get(&balance, `SELECT balance_cents FROM wallets WHERE org_id = $1`, ws.ID)
	if balance != start-purchases*100 || purchases < int64(len(ok)) {
		t.Fatalf("balance %d after %d purchases (%d answered 201)", balance, purchases, len(ok))
	}
	// A purchase whose answer was lost in the crash is answered the same way
	// when retried with its key, and never charged twice.
	for i := 1; i <= packages; i++ {
		slug := "p-" + strconv.Itoa(i)
		var had int
		_ = sdb.Get(&had, `SELECT count(*) FROM entitlements e JOIN packages p ON p.id = e.package_id WHERE p.slug = $1`, slug)
		if had == 0 {
			continue
		}
		if code, _ := buy(slug); code != http.StatusCreated {
			t.Fatalf("retry of %s after the crash: %d", slug, code)
		}
	}
	var after int64
	_ = sdb.Get(&after, `SELECT balance_cents FROM wallets WHERE org_id = $1`, ws.ID)
	if after != balance {
		t.Fatalf("retries moved money: %d -> %d", balance, after)
	}
	t.Logf("killed after %d answered purchases; %d in the ledger", len(ok), purchases)
}
