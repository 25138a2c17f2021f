package web

import (
	"net/http"
	"net/http/httptest"
)

// RouteTable exposes the route table to the external tests (the
// authorization matrix is generated from it).
func (s *Server) RouteTable() []Route { return s.routes() }

// SessionCookie mints a signed session cookie for an existing server-side
// session id, with the given CSRF token and active workspace, as sign-in
// would: the security suite makes hundreds of sessions and signing in
// through the form for each would dominate its run time.
func (s *Server) SessionCookie(sid, csrf string, workspace int64) *http.Cookie {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	sess, _ := s.cookies.New(req, cookieName)
	sess.Values[keySID] = sid
	sess.Values[keyCSRF] = csrf
	if workspace != 0 {
		sess.Values[keyWS] = workspace
	}
	rec := httptest.NewRecorder()
	if err := sess.Save(req, rec); err != nil {
		panic(err)
	}
	return rec.Result().Cookies()[0]
}
