package web

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"guildhall/db"
	"guildhall/db/migrations"
	"guildhall/handlers"
	"guildhall/handlers/api"
	"guildhall/static"
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
	s.echo = s.build()
	return s
}

// Handler is the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the Echo app (for tests that add routes).
func (s *Server) Echo() *echo.Echo { return s.echo }

func (s *Server) build() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.Recover())
	e.Use(observability.Middleware(s.log, s.metrics))
	e.Use(middleware.BodyLimit("2M"))
	e.Use(securityHeaders)
	e.Use(compress())

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.cfg.Ops.MetricsToken != "" {
		e.GET("/metrics", echo.WrapHandler(s.metrics.Handler(s.cfg.Ops.MetricsToken)))
	}
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler())))

	page := e.Group("", s.sessionMiddleware, s.csrfMiddleware)
	member := e.Group("", s.sessionMiddleware, s.csrfMiddleware, requireAccount, s.workspaceMiddleware)
	apiPublic := e.Group("")
	apiAuth := e.Group("", s.bearerMiddleware)
	for _, r := range s.routes() {
		switch r.Access {
		case Public:
			page.Add(r.Method, r.Path, r.Handler, s.workspaceMiddleware)
		case Member:
			member.Add(r.Method, r.Path, r.Handler)
		case APIPublic:
			apiPublic.Add(r.Method, r.Path, r.Handler)
		case API:
			apiAuth.Add(r.Method, r.Path, r.Handler)
		}
	}
	// Unknown /api paths answer the JSON envelope; unknown pages the 404 page
	// (with the session, so the layout shows who is signed in).
	e.Any("/api/*", func(c echo.Context) error { return echo.ErrNotFound })
	page.Any("/*", func(c echo.Context) error { return echo.ErrNotFound }, s.workspaceMiddleware)
	return e
}

func staticHandler() http.Handler {
	fs := http.FileServer(http.FS(static.Files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(w, r)
	})
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
