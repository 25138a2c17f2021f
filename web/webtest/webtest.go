// Package webtest runs the whole Guildhall server for tests: a fresh
// database, a real SMTP server on loopback, an adjustable clock, and clients
// for the pages (cookies and CSRF) and for the JSON API (bearer tokens).
package webtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"guildhall/db"
	"guildhall/db/dbtest"
	"guildhall/db/querycount"
	"guildhall/web"
	"guildhall/web/mail"
	"guildhall/web/mail/mailtest"
)

// Clock is a settable clock: real time plus an offset tests can move.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the current test time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves time forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Env is one running server with its database and mail.
type Env struct {
	T      testing.TB
	URL    string
	Store  *db.Store
	Mail   *mailtest.Server
	Clock  *Clock
	Server *web.Server
	dsn    string
}

// Secret is the server secret of every test server: tests that seal
// secrets as the server does (TOTP keys, SSO client secrets) use it.
const Secret = "test-secret-0123456789abcdef0123456789"

// Options tune New.
type Options struct {
	// SignInLimit overrides the sign-in attempts allowed per 15 minutes.
	SignInLimit int
	// TrustedProxies makes forwarded headers count from these peers (CIDRs).
	TrustedProxies string
	// DNSResolver is the DNS server for domain verification (ssotest.StartDNS).
	DNSResolver string
	// Logger receives the request log lines (nil: none).
	Logger *slog.Logger
	// Ops sets the metrics token and friends.
	Ops web.OpsConfig
	// BaseURL is the address links in mail point to (default: the server's
	// own; a proxy in front of several servers passes its own).
	BaseURL string
}

// New starts a server on a fresh database.
func New(t testing.TB, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	return start(t, o, dbtest.NewDSN(t), mailtest.Start(t), &Clock{})
}

// start runs one server on the database at dsn, delivering mail to smtpSrv.
// Its connections count statements for requests that ask (querycount).
func start(t testing.TB, o Options, dsn string, smtpSrv *mailtest.Server, clock *Clock) *Env {
	t.Helper()
	conn, err := querycount.Connector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB := sqlx.NewDb(sql.OpenDB(conn), "postgres")
	t.Cleanup(func() { sqlDB.Close() })
	db.ConfigurePool(sqlDB, 0) // as in production, so load runs measure the app
	store := db.New(sqlDB, db.WithClock(clock.Now), db.WithFastPasswordHashing())
	smtpMailer, err := mail.NewSMTP(smtpSrv.URL(), "Guildhall <no-reply@guildhall.test>")
	if err != nil {
		t.Fatal(err)
	}
	// The same queue as production: requests enqueue, a worker delivers.
	mailer := mail.NewQueue(store, smtpMailer)
	mailer.Poll = 200 * time.Millisecond
	mailer.Logf = t.Logf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mailer.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	env := &Env{T: t, Store: store, Mail: smtpSrv, Clock: clock, dsn: dsn}
	// The base URL must be known before the server starts (emails carry it),
	// so listen first.
	ts := httptest.NewUnstartedServer(nil)
	env.URL = "http://" + ts.Listener.Addr().String()
	base := env.URL
	if o.BaseURL != "" {
		base = o.BaseURL
	}
	proxies, err := web.ParseCIDRs(o.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	cfg := web.Config{Addr: ts.Listener.Addr().String(), BaseURL: base, Dev: true, Ops: o.Ops, TrustedProxies: proxies, DNSResolver: o.DNSResolver}
	env.Server = web.New(web.Options{Config: cfg, Store: store, Mailer: mailer, Secret: Secret, SignInLimit: o.SignInLimit, Logger: o.Logger})
	ts.Config.Handler = querycount.Handler(env.Server.Handler())
	ts.Start()
	t.Cleanup(func() { _ = env.Server.Meter().Close() }) // after ts.Close: flush before the database goes
	t.Cleanup(ts.Close)
	return env
}

// Client is a browser-like HTTP client: it keeps cookies, does not follow
// redirects (tests assert them) and sends the CSRF token with posts.
type Client struct {
	env  *Env
	HTTP *http.Client
	csrf string
}

// Response is a finished request.
type Response struct {
	Status   int
	Body     string
	Header   http.Header
	Location string
	// Refresh is where a page's meta refresh moves the browser (the page a
	// form post answers with when the next stop is an identity provider).
	Refresh string
	// Trailer carries the statement count of a counted request (Queries).
	Trailer http.Header
}

// NewClient makes a signed-out client.
func (e *Env) NewClient() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{env: e, HTTP: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (c *Client) do(req *http.Request) Response {
	c.env.T.Helper()
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.env.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfRe.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	out := Response{Status: res.StatusCode, Body: string(b), Header: res.Header, Location: res.Header.Get("Location"), Trailer: res.Trailer}
	if m := refreshRe.FindSubmatch(b); m != nil {
		out.Refresh = html.UnescapeString(string(m[1]))
	}
	return out
}

var refreshRe = regexp.MustCompile(`<meta http-equiv="refresh" content="0; url=([^"]*)"`)

// Next is where the browser goes next: the redirect, or else the meta refresh.
func (r Response) Next() string {
	if r.Location != "" {
		return r.Location
	}
	return r.Refresh
}

// Get fetches a page.
func (c *Client) Get(path string) Response {
	c.env.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.env.URL+path, nil)
	return c.do(req)
}

// SignIn signs in through the form and picks up the new CSRF token.
func (c *Client) SignIn(email, password string) Response {
	c.env.T.Helper()
	res := c.Post("/login", url.Values{"email": {email}, "password": {password}})
	c.Get("/")
	return res
}

// CSRF returns the token the last page carried (fetching /login if none yet).
func (c *Client) CSRF() string {
	if c.csrf == "" {
		c.Get("/login")
	}
	return c.csrf
}

// Post submits a form with the CSRF token.
func (c *Client) Post(path string, form url.Values) Response {
	c.env.T.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("_csrf") == "" {
		form.Set("_csrf", c.CSRF())
	}
	return c.PostRaw(path, form)
}

// PostRaw submits a form as is (to test a missing or wrong CSRF token).
func (c *Client) PostRaw(path string, form url.Values) Response {
	c.env.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.env.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// HTMX posts a form as htmx does: the header token and HX-Request.
func (c *Client) HTMX(method, path string, form url.Values) Response {
	c.env.T.Helper()
	if form == nil {
		form = url.Values{}
	}
	req, _ := http.NewRequest(method, c.env.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", c.CSRF())
	return c.do(req)
}

// Password used by the sign-up helpers.
const Password = "correct-horse-battery"

// SignUp creates an account through the sign-up form and returns its
// signed-in client. The email stays unverified.
func (e *Env) SignUp(email, name string) *Client {
	e.T.Helper()
	c := e.NewClient()
	c.Get("/signup")
	res := c.Post("/signup", url.Values{"email": {email}, "name": {name}, "password": {Password}})
	if res.Status != http.StatusSeeOther {
		e.T.Fatalf("sign up %s: status %d\n%s", email, res.Status, res.Body)
	}
	c.Get("/") // the CSRF token changes at sign-in: pick up the new one
	return c
}

var linkRe = regexp.MustCompile(`https?://[^\s"<>]+`)

// LinkIn returns the first link in the text body of the newest mail to
// email whose link path starts with prefix (e.g. "/verify/").
func (e *Env) LinkIn(to, prefix string) string {
	e.T.Helper()
	return e.NewLinkIn(to, prefix, "")
}

// NewLinkIn is LinkIn waiting for a link other than old (the one a resend
// replaces): the mail worker delivers in the background.
func (e *Env) NewLinkIn(to, prefix, old string) string {
	e.T.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		msgs := e.Mail.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			if !contains(m.To, to) {
				continue
			}
			for _, l := range linkRe.FindAllString(m.Text, -1) {
				if u, err := url.Parse(l); err == nil && strings.HasPrefix(u.Path, prefix) && l != old && e.Path(l) != old {
					return l
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.T.Fatalf("no mail to %s with a new %s link", to, prefix)
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.Trim(x, "<>"), s) {
			return true
		}
	}
	return false
}

// Path strips the server's base URL from a link.
func (e *Env) Path(link string) string { return strings.TrimPrefix(link, e.URL) }

// SignUpVerified signs up and opens the emailed verification link.
func (e *Env) SignUpVerified(email, name string) *Client {
	e.T.Helper()
	c := e.SignUp(email, name)
	res := c.Get(e.Path(e.LinkIn(email, "/verify/")))
	if res.Status != http.StatusOK {
		e.T.Fatalf("verify %s: status %d", email, res.Status)
	}
	return c
}

// API is a JSON client with a bearer token.
type API struct {
	env   *Env
	Token string
}

// APIResponse is a decoded envelope.
type APIResponse struct {
	Status int
	Raw    string
	Body   map[string]any
	Header http.Header
	// Trailer carries the statement count of a counted request.
	Trailer http.Header
}

// Data is the envelope's data as an object.
func (r APIResponse) Data() map[string]any {
	d, _ := r.Body["data"].(map[string]any)
	return d
}

// List is the envelope's data as a list.
func (r APIResponse) List() []any {
	d, _ := r.Body["data"].([]any)
	return d
}

// ErrorCode is error.code of a failed answer.
func (r APIResponse) ErrorCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// ErrorMessage is error.message of a failed answer.
func (r APIResponse) ErrorMessage() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// NewAPI makes a client with token ("" for none).
func (e *Env) NewAPI(token string) *API { return &API{env: e, Token: token} }

// Do sends body (nil, a string of raw JSON, or a value to encode).
func (a *API) Do(method, path string, body any, headers ...string) APIResponse {
	a.env.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			a.env.T.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, a.env.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.env.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := APIResponse{Status: res.StatusCode, Raw: string(raw), Header: res.Header, Trailer: res.Trailer}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// SignUpAPI creates an account through POST /api/auth/signup and returns its
// API client and user id.
func (e *Env) SignUpAPI(email, name string) (*API, int64) {
	e.T.Helper()
	r := e.NewAPI("").Do(http.MethodPost, "/api/auth/signup", map[string]any{"email": email, "name": name, "password": Password})
	if r.Status != http.StatusCreated {
		e.T.Fatalf("api signup %s: %d %s", email, r.Status, r.Raw)
	}
	tok, _ := r.Data()["token"].(string)
	user, _ := r.Data()["user"].(map[string]any)
	id, _ := user["id"].(float64)
	return e.NewAPI(tok), int64(id)
}

// VerifyEmail marks an account's email verified directly in the database
// (for tests about something else than the verification link).
func (e *Env) VerifyEmail(email string) {
	e.T.Helper()
	if _, err := e.Store.DB().Exec(`UPDATE accounts SET email_verified_at = now() WHERE email = $1`, strings.ToLower(email)); err != nil {
		e.T.Fatal(err)
	}
}
