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

func TestOffsetArgs(t *testing.T) {
	const q = `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT 25 OFFSET :offset`
	if got, args := offsetArgs(q, 0, []any{int64(7)}); got != `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT 25 OFFSET 0` || len(args) != 1 {
		t.Errorf("first page: %q %v", got, args)
	}
	if got, args := offsetArgs(q, 50, []any{int64(7)}); got != `SELECT id FROM t WHERE org_id = $1 ORDER BY id LIMIT 25 OFFSET $2` || !reflect.DeepEqual(args, []any{int64(7), 50}) {
		t.Errorf("third page: %q %v", got, args)
	}
	// Both placeholders in one text, numbered in the order they are added.
	both, args := limitArgs(`SELECT 1 LIMIT :limit OFFSET :offset`, 13, []any{"a"}, 25)
	both, args = offsetArgs(both, 26, args)
	if both != `SELECT 1 LIMIT $2 OFFSET $3` || !reflect.DeepEqual(args, []any{"a", 13, 26}) {
		t.Errorf("limit and offset: %q %v", both, args)
	}
}
