package db

import (
	"reflect"
	"testing"
)

func TestLimitArgs(t *testing.T) {
	const q = `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT :limit OFFSET $2`
	for _, c := range []struct {
		limit     int
		usual     []int
		wantQuery string
		wantArgs  []any
	}{
		{51, []int{51}, `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT 51 OFFSET $2`, []any{int64(7), 0}},
		{26, []int{51, 26}, `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT 26 OFFSET $2`, []any{int64(7), 0}},
		// Any other size is a parameter: a script walking per_page values
		// must not add a statement text for each.
		{13, []int{51}, `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT $3 OFFSET $2`, []any{int64(7), 0, 13}},
		{51, nil, `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT $3 OFFSET $2`, []any{int64(7), 0, 51}},
	} {
		gotQ, gotA := limitArgs(q, c.limit, []any{int64(7), 0}, c.usual...)
		if gotQ != c.wantQuery || !reflect.DeepEqual(gotA, c.wantArgs) {
			t.Errorf("limitArgs(%d, %v) = %q %v, want %q %v", c.limit, c.usual, gotQ, gotA, c.wantQuery, c.wantArgs)
		}
	}
}
