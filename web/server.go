package web

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"guildhall/db"
	"guildhall/db/migrations"
	"guildhall/handlers"
	"guildhall/handlers/api"
	"guildhall/static"
	"guildhall/web/metering"
	"guildhall/web/observability"
	"guildhall/web/ratelimit"
)

// Server is the configured Echo app.
type Server struct {
	cfg     Config
	store   *db.Store
	cookies *sessions.CookieStore
	base    *handlers.Base
	h       *Handlers
	echo    *echo.Echo
	meter   *metering.Meter // counts API requests per org (issue 11)
	log     *slog.Logger
	metrics *observability.Metrics
}

// Options wires the server's collaborators.
type Options struct {
	Config Config
	Store  *db.Store
	Mailer handlers.Mailer
	Secret string
	// Logger logs one line per request; nil logs nothing.
	Logger *slog.Logger
	// Metrics collects request durations; nil makes one (see Metrics).
	Metrics *observability.Metrics
	// SignInLimit is attempts per IP and per account in 15 minutes (default 10).
	SignInLimit int
}

// New builds the server.
func New(o Options) *Server {
	hashKey := sha256.Sum256([]byte("guildhall-session-hash:" + o.Secret))
	blockKey := sha256.Sum256([]byte("guildhall-session-block:" + o.Secret))
	cookies := sessions.NewCookieStore(hashKey[:], blockKey[:])
	for _, c := range cookies.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(sessionSerializer{})
		}
	}
	cookies.Options = &sessions.Options{
		Path: "/", MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: o.Config.Secure(),
	}
	limit := o.SignInLimit
	if limit == 0 {
		limit = 10
	}
	s := &Server{cfg: o.Config, store: o.Store, cookies: cookies, log: o.Logger, metrics: o.Metrics}
	if s.metrics == nil {
		s.metrics = NewMetrics(o.Store, o.Logger)
	}
	quiet := o.Logger
	if quiet == nil {
		quiet = slog.New(slog.DiscardHandler)
	}
	s.base = &handlers.Base{Store: o.Store, Mail: o.Mailer, BaseURL: o.Config.BaseURL, Dev: o.Config.Dev}
	s.h = newHandlers(s.base, &api.Base{Store: o.Store, BaseURL: o.Config.BaseURL}, ratelimit.NewShared(o.Store, limit, 15*time.Minute, o.Store.Now, quiet))
	s.h.setSecretBox(db.NewSecretBox(o.Secret)) // two-factor secrets at rest (web/twofactor.go)
	s.registerStoreMetrics()                    // group-commit batch sizes, purchases by outcome (web/walletmetrics.go)
	s.h.addSSO(s.base, s.h.APIAuth.Base, o)
	s.meter = metering.New(o.Store, metering.Options{Logf: func(format string, a ...any) { s.log.Error(fmt.Sprintf(format, a...)) }})
	s.meter.Start() // stopped (and flushed) by Meter().Close()
	s.echo = s.build()
	return s
}

// Meter is the API request meter; Close it on shutdown so its counts are
// written.
func (s *Server) Meter() *metering.Meter { return s.meter }

// Handler is the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the Echo app (for tests that add routes).
func (s *Server) Echo() *echo.Echo { return s.echo }

func (s *Server) build() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	e.Use(middleware.Recover())
	e.Use(observability.Middleware(s.log, s.metrics))
	e.Use(middleware.BodyLimit("2M"))
	e.Use(cleanInput)
	e.Use(s.securityHeaders)
	e.Use(compress())

	getHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getHead, "/healthz", s.healthz)
	e.Match(getHead, "/readyz", s.readyz)
	if s.cfg.Ops.MetricsToken != "" {
		e.GET("/metrics", echo.WrapHandler(s.metrics.Handler(s.cfg.Ops.MetricsToken)))
	}
	e.Match(getHead, "/static/*", echo.WrapHandler(http.StripPrefix("/static", static.Handler())))

	page := e.Group("", s.sessionMiddleware, s.csrfMiddleware)
	pageRead := e.Group("", s.memberSessionMiddleware, s.csrfMiddleware)
	member := e.Group("", s.memberSessionMiddleware, s.csrfMiddleware, requireAccount, s.workspaceMiddleware, s.h.TwoFactor.Gate)
	apiPublic := e.Group("")
	apiAuth := e.Group("", s.bearerMiddleware, s.meter.Middleware)
	for _, r := range s.routes() {
		// HEAD is answered wherever GET is (RFC 9110 9.3.2): the same
		// handler, and net/http drops the body.
		methods := []string{r.Method}
		if r.Method == http.MethodGet {
			methods = getHead
		}
		for _, m := range methods {
			switch r.Access {
			case Public:
				page.Add(m, r.Path, r.Handler, s.workspaceMiddleware)
			case PublicRead:
				pageRead.Add(m, r.Path, r.Handler, s.workspaceMiddleware)
			case Member:
				member.Add(m, r.Path, r.Handler)
			case APIPublic:
				apiPublic.Add(m, r.Path, r.Handler)
			case API:
				apiAuth.Add(m, r.Path, r.Handler)
			}
		}
	}
	// Unknown /api paths answer the JSON envelope; unknown pages the 404 page
	// (with the session, so the layout shows who is signed in).
	e.Any("/api/*", func(c echo.Context) error { return echo.ErrNotFound })
	page.Any("/*", func(c echo.Context) error { return echo.ErrNotFound }, s.workspaceMiddleware)
	return e
}

// ipExtractor is the one source of the client IP (c.RealIP) for the audit
// log, rate limits and sessions. With no trusted proxies it is the socket
// peer; otherwise X-Forwarded-For (or X-Real-IP) counts only when the peer is
// one of the proxies, and only the hops those proxies vouch for. Loopback and
// private networks are not trusted unless listed.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	xff, realIP := echo.ExtractIPFromXFFHeader(opts...), echo.ExtractIPFromRealIPHeader(opts...)
	return func(r *http.Request) string {
		if len(r.Header.Values(echo.HeaderXForwardedFor)) > 0 {
			return xff(r)
		}
		return realIP(r)
	}
}

func (s *Server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable")
	}
	return c.String(http.StatusOK, "ok")
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	pending, err := migrations.Pending(ctx, s.store.DB().DB)
	if err != nil || pending {
		return c.String(http.StatusServiceUnavailable, "not ready")
	}
	return c.String(http.StatusOK, "ok")
}
