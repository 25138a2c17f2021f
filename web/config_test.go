package web

import (
	"strings"
	"testing"
)

// TestDBMaxConnsConfig: GUILDHALL_DB_MAX_CONNS sets the pool's cap, the
// flag overrides it, and a value that is not a count stops the server with
// a message rather than running it with some other pool.
func TestDBMaxConnsConfig(t *testing.T) {
	for _, c := range []struct {
		name, env string
		args      []string
		want      int
		err       string
	}{
		{"unset", "", nil, 0, ""},
		{"env", "8", nil, 8, ""},
		{"env with spaces", " 12 ", nil, 12, ""},
		{"flag overrides env", "8", []string{"-db-max-conns", "3"}, 3, ""},
		{"flag alone", "", []string{"-db-max-conns=40"}, 40, ""},
		{"not a number", "many", nil, 0, `GUILDHALL_DB_MAX_CONNS: "many" is not a whole number`},
		{"negative", "-1", nil, 0, "-1 is not from 1 to 1000"},
		{"too many", "", []string{"-db-max-conns", "5000"}, 0, "5000 is not from 1 to 1000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"GUILDHALL_DB_MAX_CONNS": c.env, "GUILDHALL_DATA": t.TempDir()}
			cfg, err := LoadConfig(func(k string) string { return env[k] }, c.args)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DBMaxConns != c.want {
				t.Fatalf("DBMaxConns %d, want %d", cfg.DBMaxConns, c.want)
			}
		})
	}
}
