package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"guildhall/db"
	"guildhall/db/dbtest"
	dbmodel "guildhall/db/model"
	"guildhall/web"
	"guildhall/web/mail"
	"guildhall/web/mail/mailtest"
	"guildhall/web/observability"
	"guildhall/web/webtest"
)

// One JSON line per request: the route pattern (never the raw path, whose
// token is a secret), the status, the duration and the request id that the
// answer carries in X-Request-Id.
func TestRequestLogAndRequestID(t *testing.T) {
	var sink webtest.SyncBuffer
	logger, err := observability.NewLogger(&sink, "json")
	if err != nil {
		t.Fatal(err)
	}
	env := webtest.New(t, webtest.Options{Logger: logger})
	c := env.NewClient()
	res := c.Get("/invitations/inv_SECRETTOKEN123")
	id := res.Header.Get("X-Request-Id")
	if len(id) != 24 {
		t.Fatalf("request id %q", id)
	}
	if strings.Contains(sink.String(), "SECRETTOKEN") {
		t.Fatalf("the raw path reached the log:\n%s", sink.String())
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(sink.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if m["request_id"] == id {
			line = m
		}
	}
	if line == nil || line["route"] != "/invitations/:token" || line["method"] != "GET" ||
		line["status"] != float64(res.Status) || line["msg"] != "request" {
		t.Fatalf("log line %v for status %d", line, res.Status)
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Fatalf("no duration in %v", line)
	}

	// A short, safe incoming id is kept (a balancer's); anything else is replaced.
	for in, keep := range map[string]bool{
		"lb-1234.abc":               true,
		"bad id forged=line":        false,
		strings.Repeat("a", 65):     false,
		`<script>alert(1)</script>`: false,
	} {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/healthz", nil)
		req.Header.Set("X-Request-Id", in)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		got := r.Header.Get("X-Request-Id")
		if (got == in) != keep || got == "" {
			t.Fatalf("incoming id %q answered %q (keep=%v)", in, got, keep)
		}
	}

	// Text is the default format.
	if _, err := observability.NewLogger(&sink, "yaml"); err == nil {
		t.Fatal("unknown log format accepted")
	}
}

// parseMetrics reads a Prometheus text exposition, failing the test when it
// does not parse.
func parseMetrics(t *testing.T, body string) map[string]bool {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, body)
	}
	names := map[string]bool{}
	for n := range fams {
		names[n] = true
	}
	return names
}

// /metrics on the main address needs the token; it parses as Prometheus text
// and has request durations by route and status, the pool and the mail queue.
func TestMetricsBehindToken(t *testing.T) {
	env := webtest.New(t, webtest.Options{Ops: web.OpsConfig{MetricsToken: "metrics-token-123"}})
	c := env.NewClient()
	c.Get("/healthz")
	c.Get("/login")
	for _, auth := range []string{"", "Bearer wrong", "metrics-token-123"} {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/metrics with %q: %d, want 401", auth, r.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-token-123")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", r.StatusCode)
	}
	names := parseMetrics(t, body.String())
	for _, n := range []string{
		"guildhall_http_request_duration_seconds", "go_sql_open_connections", "go_sql_wait_count_total",
		"guildhall_mail_queue_depth", "guildhall_mail_failed", "go_goroutines",
	} {
		if !names[n] {
			t.Fatalf("metric %s missing\n%s", n, body.String())
		}
	}
	for _, want := range []string{`route="/healthz",status="200"`, `route="/login",status="200"`} {
		if !strings.Contains(body.String(), want) {
			t.Fatalf("no request series with %s", want)
		}
	}
}

// Without a token, /metrics is not on the main address; the separate
// listener's handler serves it, and other areas can add collectors.
func TestMetricsSeparateAddress(t *testing.T) {
	env := webtest.New(t)
	if res := env.NewClient().Get("/metrics"); res.Status != http.StatusNotFound {
		t.Fatalf("/metrics on the main address without a token: %d", res.Status)
	}
	env.NewClient().Get("/healthz")
	srv := httptest.NewServer(env.Server.MetricsHandler())
	defer srv.Close()
	r, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	names := parseMetrics(t, body.String())
	if !names["guildhall_http_request_duration_seconds"] || !names["guildhall_mail_queue_depth"] {
		t.Fatalf("metrics missing:\n%s", body.String())
	}
}

// Stopping the mail worker drains it: mail queued before the stop is
// delivered before Run returns, even though its context is already over.
func TestMailWorkerDrainsOnStop(t *testing.T) {
	store := db.New(dbtest.New(t))
	smtpSrv := mailtest.Start(t)
	m, err := mail.NewSMTP(smtpSrv.URL(), "Guildhall <no-reply@guildhall.test>")
	if err != nil {
		t.Fatal(err)
	}
	q := mail.NewQueue(store, m)
	q.Poll = time.Hour
	for _, to := range []string{"a@example.com", "b@example.com"} {
		if err := store.EnqueueMail(t.Context(), dbmodel.Mail{To: to, Subject: "hello", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a shutdown signal has already arrived
	q.Run(ctx)
	if got := len(smtpSrv.Messages()); got != 2 {
		t.Fatalf("%d of 2 queued messages delivered on shutdown", got)
	}
	c, err := store.MailQueueStats(t.Context())
	if err != nil || c.Pending != 0 || c.Sent != 2 {
		t.Fatalf("queue after drain: %+v %v", c, err)
	}
}

// Pages are gzipped for clients that accept it; small answers and /healthz
// are not.
func TestPagesCompressed(t *testing.T) {
	env := webtest.New(t)
	get := func(path string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, env.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport then leaves the body alone
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := get("/login"); r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("/login: %d, Content-Encoding %q", r.StatusCode, r.Header.Get("Content-Encoding"))
	}
	if r := get("/healthz"); r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("/healthz compressed")
	}
	// The compressed body is the page: the same bytes as without gzip.
	body := func(path, enc, method string) (*http.Response, string) {
		req, _ := http.NewRequest(method, env.URL+path, nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" && method != http.MethodHead {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			rd = zr
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return r, string(b)
	}
	zr, zb := body("/login", "gzip, deflate, br", http.MethodGet)
	pr, pb := body("/login", "identity", http.MethodGet)
	if zr.Header.Get("Content-Encoding") != "gzip" || pr.Header.Get("Content-Encoding") != "" || len(pb) < 1024 ||
		!strings.Contains(zb, "</html>") || len(zb) != len(pb) {
		t.Fatalf("gzip %q (%d bytes) against identity %q (%d bytes)", zr.Header.Get("Content-Encoding"), len(zb), pr.Header.Get("Content-Encoding"), len(pb))
	}
	if !strings.Contains(strings.Join(pr.Header.Values("Vary"), ","), "Accept-Encoding") {
		t.Fatalf("an uncompressed page lacks Vary: Accept-Encoding (a cache would serve it to anyone)")
	}
	// q=0 refuses gzip; a page not found is still a page; HEAD has no body.
	if r, _ := body("/login", "gzip;q=0", http.MethodGet); r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip;q=0 got gzip")
	}
	if r, b := body("/no-such-page", "gzip", http.MethodGet); r.StatusCode != http.StatusNotFound || b == "" {
		t.Fatalf("404 under gzip: %d %q", r.StatusCode, b)
	}
	if r, b := body("/login", "gzip", http.MethodHead); r.StatusCode != http.StatusOK || b != "" {
		t.Fatalf("HEAD /login under gzip: %d, %d bytes", r.StatusCode, len(b))
	}
}
