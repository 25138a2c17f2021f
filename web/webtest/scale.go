package webtest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"guildhall/db/dbtest"
	"guildhall/db/querycount"
	"guildhall/web/mail/mailtest"
)

// Queries fetches path and returns the answer and the SQL statements the
// server ran for it (one line each).
func (c *Client) Queries(path string) (Response, []string) {
	c.env.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.env.URL+path, nil)
	req.Header.Set(querycount.Header, "1")
	res := c.do(req)
	return res, statements(res.Trailer)
}

// Queries sends a counted GET and returns the answer and its statements.
func (a *API) Queries(path string) (APIResponse, []string) {
	a.env.T.Helper()
	res := a.Do(http.MethodGet, path, nil, querycount.Header, "1")
	return res, statements(res.Trailer)
}

func statements(tr http.Header) []string {
	if tr.Get(querycount.Trailer) == "" {
		return nil
	}
	list := tr.Get(querycount.TrailerQueries)
	if list == "" {
		return []string{}
	}
	return strings.Split(list, " ;; ")
}

// Cluster is several servers on one database and one SMTP server, each with
// its own connection pool and mail worker, behind a round-robin proxy.
type Cluster struct {
	// Env talks to the proxy: its URL is the proxy's, its Store the first
	// server's; links in mail point to the proxy.
	*Env
	Servers []*Env
	// Hits counts the requests each server answered.
	Hits []atomic.Int64
}

// NewCluster starts n servers behind a round-robin reverse proxy
// (net/http/httputil), as a load balancer would run them.
func NewCluster(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	proxy := httptest.NewUnstartedServer(nil)
	o.BaseURL = "http://" + proxy.Listener.Addr().String()
	dsn, smtpSrv, clock := dbtest.NewDSN(t), mailtest.Start(t), &Clock{}
	c := &Cluster{Hits: make([]atomic.Int64, n)}
	for i := 0; i < n; i++ {
		c.Servers = append(c.Servers, start(t, o, dsn, smtpSrv, clock))
	}
	targets := make([]*url.URL, n)
	for i, s := range c.Servers {
		targets[i], _ = url.Parse(s.URL)
	}
	var next atomic.Int64
	proxy.Config.Handler = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := int(next.Add(1)-1) % n
		c.Hits[i].Add(1)
		r.SetURL(targets[i])
		r.Out.Host = r.In.Host // the servers see the public host, as behind a balancer
	}}
	proxy.Start()
	t.Cleanup(proxy.Close)
	front := *c.Servers[0]
	front.URL = o.BaseURL
	front.Server = nil
	c.Env = &front
	return c
}
