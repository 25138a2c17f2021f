package model

import (
	"reflect"
	"testing"
	"time"
)

func TestWithinCreator(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	at := func(h int) *time.Time { v := time.Date(2030, 1, 1, h, 0, 0, 0, time.UTC); return &v }
	readOnly := APIToken{Scopes: []string{ScopeRead}}
	rw := APIToken{Scopes: []string{ScopeRead, ScopeWrite}}
	all := APIToken{Scopes: AllScopes}
	bound := APIToken{Scopes: []string{ScopeRead, ScopeWrite}, OrgID: i(7), PolicyID: i(3), ExpiresAt: at(12)}
	for _, c := range []struct {
		name    string
		creator APIToken
		req     TokenRequest
		want    TokenRequest
		refused bool
	}{
		{"subset", rw, TokenRequest{Scopes: []string{ScopeRead}}, TokenRequest{Scopes: []string{ScopeRead}}, false},
		{"same", rw, TokenRequest{Scopes: []string{ScopeRead, ScopeWrite}}, TokenRequest{Scopes: []string{ScopeRead, ScopeWrite}}, false},
		{"more than read", readOnly, TokenRequest{Scopes: []string{ScopeWrite}}, TokenRequest{}, true},
		{"admin it lacks", rw, TokenRequest{Scopes: []string{ScopeAdmin}}, TokenRequest{}, true},
		{"purchase it lacks", rw, TokenRequest{Scopes: []string{ScopeRead, ScopePurchase}}, TokenRequest{}, true},
		{"admin creator, any", all, TokenRequest{Scopes: []string{ScopePurchase}}, TokenRequest{Scopes: []string{ScopePurchase}}, false},
		{"default narrowed", readOnly, TokenRequest{}, TokenRequest{Scopes: []string{ScopeRead}}, false},
		{"default read write", all, TokenRequest{}, TokenRequest{Scopes: []string{ScopeRead, ScopeWrite}}, false},
		{"default download only", APIToken{Scopes: []string{ScopeDownload}}, TokenRequest{}, TokenRequest{Scopes: []string{ScopeDownload}}, false},
		{"unknown passes to validation", readOnly, TokenRequest{Scopes: []string{"nope"}}, TokenRequest{Scopes: []string{"nope"}}, false},
		{"binding inherited", bound, TokenRequest{Scopes: []string{ScopeRead}}, TokenRequest{Scopes: []string{ScopeRead}, OrgID: i(7), PolicyID: i(3), ExpiresAt: at(12)}, false},
		{"same binding", bound, TokenRequest{Scopes: []string{ScopeRead}, OrgID: i(7), PolicyID: i(3), ExpiresAt: at(11)}, TokenRequest{Scopes: []string{ScopeRead}, OrgID: i(7), PolicyID: i(3), ExpiresAt: at(11)}, false},
		{"other org", bound, TokenRequest{OrgID: i(8)}, TokenRequest{}, true},
		{"other policy", bound, TokenRequest{PolicyID: i(4)}, TokenRequest{}, true},
		{"outlives", bound, TokenRequest{ExpiresAt: at(13)}, TokenRequest{}, true},
		{"unbound creator binds freely", rw, TokenRequest{Scopes: []string{ScopeRead}, OrgID: i(8)}, TokenRequest{Scopes: []string{ScopeRead}, OrgID: i(8)}, false},
	} {
		got, err := WithinCreator(c.creator, c.req)
		if c.refused {
			if CodeOf(err) != CodeForbidden {
				t.Errorf("%s: %v, want forbidden", c.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
}
