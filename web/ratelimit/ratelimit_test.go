package ratelimit

import (
	"testing"
	"time"
)

func TestLimiterWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(3, time.Minute, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("ip:1", "email:a"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.Allow("ip:1", "email:a")
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused with a wait", ok, wait)
	}
	// Another IP trying the same account is refused too: the account key is full.
	if ok, _ := l.Allow("ip:2", "email:a"); ok {
		t.Fatal("per-account limit not applied across IPs")
	}
	// The window passes.
	now = now.Add(time.Minute)
	if ok, _ := l.Allow("ip:1", "email:a"); !ok {
		t.Fatal("refused after the window passed")
	}
	l.Reset("email:a")
	if ok, _ := l.Allow("email:a"); !ok {
		t.Fatal("refused after reset")
	}
}
