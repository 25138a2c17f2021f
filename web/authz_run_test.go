package web_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guildhall/web"
)

// TestSecuritySuite is issue 7's security suite, generated from the route
// table: the authorization matrix (every route x every actor, with ids of
// the caller's org and of another org), read-only and org-bound tokens
// against every API route, and the CSRF variants against every page POST.
// A route without a declaration in authzMatrix fails it.
func TestSecuritySuite(t *testing.T) {
	s := newSuite(t)
	table := map[string]web.Route{}
	for _, r := range s.routes {
		key := r.Method + " " + r.Path
		table[key] = r
		if _, ok := authzMatrix[key]; !ok {
			t.Errorf("route %q has no declaration in authzMatrix (web/authz_matrix_test.go): declare who may call it", key)
		}
	}
	var stale []string
	for key := range authzMatrix {
		if _, ok := table[key]; !ok {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	for _, key := range stale {
		t.Errorf("authzMatrix declares %q, which is not in the route table: remove it", key)
	}
	if t.Failed() {
		return
	}
	start := time.Now()
	t.Cleanup(func() {
		t.Logf("%d routes, %d requests, %d worlds (%v building them, summed over parallel sub-tests), %d digests, %v",
			len(s.routes), s.calls.Load(), s.worlds.Load(), time.Duration(s.worldTime.Load()).Round(time.Millisecond), s.digests.Load(), time.Since(start).Round(time.Millisecond))
	})
	for _, r := range s.routes {
		r, d := r, authzMatrix[r.Method+" "+r.Path]
		// Slashes would nest sub-tests: -run 'TestSecuritySuite/POST_.api.orgs$'
		t.Run(r.Method+" "+strings.ReplaceAll(r.Path, "/", "."), func(t *testing.T) {
			t.Parallel()
			s.runRoute(t, r, d)
		})
	}
}

// outcome reports a case: a failure, or a log line when the declaration
// flags it as a known gap.
type outcome struct {
	t    *testing.T
	d    decl
	a    actor
	what string
}

func (o outcome) fail(format string, args ...any) {
	o.t.Helper()
	msg := o.what + ": " + sprintf(format, args...)
	if o.d.gap != "" && o.d.gapFor.has(o.a) {
		o.t.Logf("KNOWN GAP (%s), not failing: %s", o.d.gap, msg)
		n, _ := gapHits.LoadOrStore(o.t, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return
	}
	o.t.Error(msg)
}

// refusal is one call that must be refused and change nothing. run makes
// the call in a world and judges its answer when judge is set.
type refusal struct {
	o   outcome
	run func(w *world, judge bool)
}

// gapped reports whether the case is a known gap: it may change its world.
func (c refusal) gapped() bool { return c.o.d.gap != "" && c.o.d.gapFor.has(c.o.a) }

// sharedWorld is one world for every refusal and every read of every route:
// neither may change anything, so they can share it. Sub-tests run in
// parallel, so a change is pinned on a route by running its calls again in
// a fresh world.
func (s *suite) sharedWorld(t *testing.T) *world {
	s.sharedOnce.Do(func() {
		s.shared = s.newWorld(t, needs{pages: true, api: true, verify: true, spare: true, totp: true, sessions: true, passkeys: true, sso: true, wallet: true})
	})
	return s.shared
}

// gapHits counts, per route's sub-test, the failures a known-gap flag
// turned into log lines: a flag that turns none is stale.
var gapHits sync.Map // *testing.T -> *atomic.Int32

func (s *suite) runRoute(t *testing.T, r web.Route, d decl) {
	defer func() {
		// A declaration the harness cannot fill (an unknown placeholder or
		// path parameter) fails its route, not the whole test binary.
		if p := recover(); p != nil {
			t.Fatalf("%v", p)
		}
	}()
	if d.gap != "" || d.boundGap != "" {
		defer func() {
			if n, ok := gapHits.Load(t); !ok || n.(*atomic.Int32).Load() == 0 {
				t.Errorf("the known gap flagged on this route (%s) no longer shows: remove its gap or boundGap flag from authzMatrix", d.gap+d.boundGap)
			}
		}()
	}
	isAPI := strings.HasPrefix(r.Path, "/api/")
	isGet := r.Method == http.MethodGet
	writes := !isGet || d.getChanges
	nd := needsOf(r)
	ref := s.sharedWorld(t)
	markers := func(w *world, cross bool) []string {
		if cross {
			return []string{w.vars["markerAgentB"], w.vars["markerTeamB"]}
		}
		return []string{w.vars["markerAgent"], w.vars["markerTeam"]}
	}
	var strict []refusal
	var allowed, away []actor

	// 1. The matrix.
	for a := actor(0); a < nActors; a++ {
		for _, v := range []variant{ownIDs, crossIDs, mixedIDs} {
			a, v, cross := a, v, v != ownIDs
			if cross && (a == other || d.noCross) {
				continue
			}
			if _, crossed := ref.pathFor(r, d, a, v); cross && !crossed {
				continue
			}
			if !cross && d.allow.has(a) {
				allowed = append(allowed, a)
				continue
			}
			// A page route naming no id, called by someone outside org A,
			// acts on their own workspace (which it may change): it must
			// neither reach nor show A.
			if !isAPI && !a.inA() && !cross && !strings.Contains(r.Path, ":") {
				away = append(away, a)
				continue
			}
			what := map[variant]string{ownIDs: "own ids", crossIDs: "another org's ids", mixedIDs: "an own id, then another org's ids"}[v]
			o := outcome{t: t, d: d, a: a}
			strict = append(strict, refusal{o: o, run: func(w *world, judge bool) {
				path, _ := w.pathFor(r, d, a, v)
				o := o
				o.what = sprintf("%s with %s: %s %s", a, what, r.Method, path)
				got := s.call(t, w, r, d, a, path, w.full[a], csrfGood)
				if !judge {
					return
				}
				if !isAPI && !isGet && got.status == http.StatusSeeOther && s.flashError(t, got) {
					// A form without htmx is refused with a redirect to a page
					// that shows the error (post/redirect/get); htmx gets the status.
					got.status = http.StatusForbidden
				}
				if !a.inA() || cross {
					s.noMarkers(o, got, markers(w, cross))
				}
				switch {
				case got.status >= 500:
					o.fail("status %d, want a refusal\n%s", got.status, clip(got.body))
				case (cross && d.allow.has(a)) || (!a.inA() && isAPI):
					// Someone who could act on such an id must not learn that
					// another org's id exists; nor may a non-member learn A's.
					if got.status != http.StatusNotFound && !d.refusedWith(got.status) && !(cross && slices.Contains(d.crossRefuse, got.status)) {
						o.fail("status %d, want 404 (another org's ids are not found)\n%s", got.status, clip(got.body))
					}
				default:
					if !isRefusal(got.status) && !d.refusedWith(got.status) {
						o.fail("status %d, want 403 or 404 (rule allows %s)\n%s", got.status, d.allow, clip(got.body))
					}
				}
			}})
		}
	}

	// The signed-out visitor: a public route serves them; any other sends
	// a page to sign-in and answers 401 to the API.
	if !d.allow.has(anonymous) {
		strict = append(strict, refusal{o: outcome{t: t, d: d, a: anonymous}, run: func(w *world, judge bool) {
			path, _ := w.pathFor(r, d, anonymous, ownIDs)
			o := outcome{t: t, d: d, a: anonymous, what: sprintf("signed out: %s %s", r.Method, path)}
			got := s.call(t, w, r, d, anonymous, path, "", csrfGood)
			switch {
			case !judge:
			case isAPI && got.status != http.StatusUnauthorized:
				o.fail("status %d, want 401\n%s", got.status, clip(got.body))
			case !isAPI && (got.status != http.StatusSeeOther || !strings.HasPrefix(got.loc, "/login")):
				o.fail("status %d to %q, want a redirect to sign in", got.status, got.loc)
			}
		}})
	} else {
		allowed = append(allowed, anonymous)
	}

	// 2. Tokens: a read-only token writes nothing; an org-bound token acts
	// only inside its org.
	if r.Access == web.API {
		strict = append(strict, s.tokenCases(t, r, d, isGet)...)
	}

	// 3. CSRF: every page POST refuses each forged variant.
	if d.noCSRF != "" && r.Access != web.APIPublic {
		t.Errorf("noCSRF on a route with a session (%v): only a route the route table serves without one may skip CSRF", r.Access)
	}
	if !isAPI && r.Method == http.MethodPost && d.noCSRF == "" {
		for _, mode := range []csrfMode{csrfNone, csrfWrong, csrfOtherSession, csrfQuery, csrfHeaderWrong} {
			mode := mode
			strict = append(strict, refusal{o: outcome{t: t, a: owner}, run: func(w *world, judge bool) {
				path, _ := w.pathFor(r, d, owner, ownIDs)
				o := outcome{t: t, a: owner, what: sprintf("CSRF %s: %s %s", csrfModeNames[mode], r.Method, path)}
				got := s.call(t, w, r, d, owner, path, "", mode)
				if judge && got.status != http.StatusForbidden {
					o.fail("status %d, want 403\n%s", got.status, clip(got.body))
				}
			}})
		}
	}

	// The refusals run together in the shared world, hashed once around
	// them; if it changed, they run again one by one in a fresh world to
	// name the call that changed it. Known gaps may change their world, so
	// they run in one of their own.
	var gaps []refusal
	before := s.digestOf(t, ref, false)
	for _, c := range strict {
		if c.gapped() {
			gaps = append(gaps, c)
			continue
		}
		c.run(ref, true)
	}
	if s.digestOf(t, ref, false) != before {
		w, found := s.newWorld(t, nd), false
		for _, c := range strict {
			if c.gapped() {
				continue
			}
			before := s.digestOf(t, w, false)
			c.run(w, false)
			if after := s.digestOf(t, w, false); after != before {
				c.o.what, found = sprintf("%s %s as %s", r.Method, r.Path, c.o.a), true
				c.o.fail("a refused call changed the database (%s)", s.changedTables(before, after))
			}
		}
		if !found {
			t.Logf("the shared world changed while this route ran, but not through it (a route running in parallel)")
		}
	}
	if len(gaps) > 0 {
		w := s.newWorld(t, nd)
		for _, c := range gaps {
			before := s.digestOf(t, w, false)
			c.run(w, true)
			if after := s.digestOf(t, w, false); after != before {
				c.o.what = sprintf("%s %s as %s", r.Method, r.Path, c.o.a)
				c.o.fail("a refused call changed the database (%s)", s.changedTables(before, after))
			}
		}
	}

	// 4. The allowed calls: writes in a world of their own (one per route,
	// or one per actor for fresh routes), reads in the shared one. Callers
	// outside A on a page route naming no id come first, in the same world.
	var w *world
	if !writes {
		w = ref
	}
	newW := func() {
		light := nd
		light.light = true
		w = s.newWorld(t, light)
		if d.prep != nil {
			d.prep(s, w)
		}
	}
	for _, a := range away {
		if w == nil {
			newW()
		}
		path, _ := w.pathFor(r, d, a, ownIDs)
		o := outcome{t: t, d: d, a: a, what: sprintf("%s (in their own workspace): %s %s", a, r.Method, path)}
		before := s.digestOf(t, w, true)
		got := s.call(t, w, r, d, a, path, w.full[a], csrfGood)
		if s.digestOf(t, w, true) != before {
			o.fail("changed org A or B (status %d)", got.status)
		}
		s.noMarkers(o, got, markers(w, false))
		if got.status >= 500 {
			o.fail("status %d\n%s", got.status, clip(got.body))
		}
	}
	var last string
	var lastW *world
	for i, a := range allowed {
		if writes && (w == nil || d.fresh && i > 0) {
			newW()
		}
		path, _ := w.pathFor(r, d, a, ownIDs)
		o := outcome{t: t, d: d, a: a, what: sprintf("%s with own ids: %s %s", a, r.Method, path)}
		if a == anonymous {
			lastW = nil
			got := s.call(t, w, r, d, a, path, "", csrfGood)
			if d.outside != "" {
				if got.status >= 500 {
					o.fail("status %d (the call needs %s, but must still answer cleanly)\n%s", got.status, d.outside, clip(got.body))
				}
				continue
			}
			if !ok2xx3xx(got.status) || strings.HasPrefix(got.loc, "/login") && !strings.HasPrefix(r.Path, "/login") && !strings.HasPrefix(r.Path, "/logout") {
				o.fail("status %d to %q, want the public route served\n%s", got.status, got.loc, clip(got.body))
			}
			continue
		}
		before := last
		if lastW != w {
			before = s.digestOf(t, w, false)
		}
		got := s.call(t, w, r, d, a, path, w.full[a], csrfGood)
		after := s.digestOf(t, w, false)
		last, lastW = after, w // the next caller's "before", in the same world
		if d.outside != "" {
			// Success needs what the fixture cannot make: the answer must
			// be clean, and a refused call must change nothing.
			refused := !ok2xx3xx(got.status) || (!isGet && got.status == http.StatusSeeOther && s.flashError(t, got))
			switch {
			case got.status >= 500:
				o.fail("status %d (the call needs %s, but must still answer cleanly)\n%s", got.status, d.outside, clip(got.body))
			case refused && before != after:
				o.fail("status %d without %s, yet the database changed", got.status, d.outside)
			}
			continue
		}
		if !ok2xx3xx(got.status) {
			o.fail("status %d, want 2xx or 3xx (rule allows %s)\n%s", got.status, d.allow, clip(got.body))
			continue
		}
		if got.status >= 300 && strings.HasPrefix(got.loc, "/login") && r.Access == web.Member {
			o.fail("redirected to %s: the session was not accepted", got.loc)
		}
		if d.redirectOnly {
			if got.status < 300 || before != after {
				o.fail("status %d (want a redirect) or the database changed", got.status)
			}
			continue
		}
		if !isAPI && !isGet && got.status == http.StatusSeeOther && s.flashError(t, got) {
			o.fail("redirected with an error message: refused")
		}
		switch {
		case writes && !d.noEffect && before == after:
			o.fail("status %d but the database did not change: was it really allowed?\n%s", got.status, clip(got.body))
		case !writes && before != after:
			o.fail("a read changed the shared world (this call, or a route running in parallel: see its own failures)")
		}
	}
}

func (s *suite) noMarkers(o outcome, got res, markers []string) {
	for _, m := range markers {
		if strings.Contains(got.body, m) {
			o.fail("answer shows %q, which the caller may not see", m)
		}
	}
}

// tokenCases: the owner's read-only token on every write, and A's admin
// with a token bound to their personal org on A's routes and on other orgs'
// invitations and transfers addressed to them.
func (s *suite) tokenCases(t *testing.T, r web.Route, d decl, isGet bool) []refusal {
	var out []refusal
	if !isGet {
		out = append(out, refusal{o: outcome{t: t, a: owner}, run: func(w *world, judge bool) {
			path, _ := w.pathFor(r, d, owner, ownIDs)
			o := outcome{t: t, a: owner, what: "read-only token: " + r.Method + " " + path}
			if got := s.call(t, w, r, d, owner, path, w.ro[owner], csrfGood); judge && got.status != http.StatusForbidden {
				o.fail("status %d, want 403\n%s", got.status, clip(got.body))
			}
		}})
	} else if d.allow.has(owner) {
		out = append(out, refusal{o: outcome{t: t, a: owner}, run: func(w *world, judge bool) {
			path, _ := w.pathFor(r, d, owner, ownIDs)
			o := outcome{t: t, a: owner, what: "read-only token: " + r.Method + " " + path}
			if got := s.call(t, w, r, d, owner, path, w.ro[owner], csrfGood); judge && !ok2xx3xx(got.status) {
				o.fail("status %d, want 2xx (a read)\n%s", got.status, clip(got.body))
			}
		}})
	}

	bd := d
	bd.params = copyMap(d.params)
	switch {
	case strings.HasPrefix(r.Path, "/api/me/org-invitations/"):
		bd.params["id"] = "{invToAdminB}"
	case strings.HasPrefix(r.Path, "/api/me/agent-transfers/"):
		bd.params["id"] = "{transferToAdminB}"
	}
	if d.boundBody != "" {
		bd.body = d.boundBody
	}
	od := decl{}
	if d.boundGap != "" {
		od.gap, od.gapFor = d.boundGap, is(admin)
	}
	switch d.bound {
	case boundSkip:
	case boundOK:
		if !isGet {
			panic("authz: boundOK is for reads")
		}
		out = append(out, refusal{o: outcome{t: t, a: admin}, run: func(w *world, judge bool) {
			path, _ := w.pathFor(r, bd, admin, ownIDs)
			o := outcome{t: t, d: od, a: admin, what: "org-bound token: " + r.Method + " " + path}
			got := s.call(t, w, r, bd, admin, path, w.boundTok[admin], csrfGood)
			if !judge {
				return
			}
			if !ok2xx3xx(got.status) {
				o.fail("status %d, want 2xx\n%s", got.status, clip(got.body))
			}
			for _, slug := range []string{w.orgA.Slug, w.orgB.Slug, w.vars["markerGiftB"]} {
				if strings.Contains(got.body, slug) {
					o.fail("answer shows %q, outside the token's org\n%s", slug, clip(got.body))
				}
			}
		}})
	default:
		out = append(out, refusal{o: outcome{t: t, d: od, a: admin}, run: func(w *world, judge bool) {
			path, _ := w.pathFor(r, bd, admin, ownIDs)
			o := outcome{t: t, d: od, a: admin, what: "org-bound token: " + r.Method + " " + path}
			got := s.call(t, w, r, bd, admin, path, w.boundTok[admin], csrfGood)
			if judge && !isRefusal(got.status) && !d.refusedWith(got.status) {
				o.fail("status %d, want 403 or 404\n%s", got.status, clip(got.body))
			}
		}})
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
