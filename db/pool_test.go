package db

import (
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
)

// TestConfigurePool: the operator's cap is the pool's, open and idle alike,
// and no cap is the default.
func TestConfigurePool(t *testing.T) {
	for _, c := range []struct{ give, want int }{{0, DefaultMaxConns}, {-3, DefaultMaxConns}, {1, 1}, {7, 7}, {200, 200}} {
		// Open does not connect: the pool's settings are all this reads.
		d, err := sqlx.Open("postgres", "host=/nonexistent sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		ConfigurePool(d, c.give)
		if got := d.Stats().MaxOpenConnections; got != c.want {
			t.Errorf("ConfigurePool(%d): at most %d connections, want %d", c.give, got, c.want)
		}
		d.Close()
	}
}
