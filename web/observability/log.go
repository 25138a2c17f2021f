// Package observability is what operators see of a running server: one
// structured log line per request with a request id, Prometheus metrics
// (request durations by route, the database pool, the mail queue), and the
// /metrics handler.
package observability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"
)

// NewLogger makes the server's logger: "text" (the default, for people) or
// "json" (for log collectors).
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", format)
}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// safeID is what an incoming request id may look like: short, and nothing
// that could forge a log line or smuggle markup.
var safeID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

type ctxKey struct{}

// RequestID is the id of the request ctx belongs to ("" outside a request).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// Middleware gives every request an id (an incoming X-Request-Id when it is
// short and safe, else a fresh one), returns it in X-Request-Id, and when the
// request ends logs one line and observes its duration. It logs the route
// pattern, never the raw path: links carry secrets (/invitations/{token}).
// It handles the error itself (c.Error), so the status it sees is final.
func Middleware(log *slog.Logger, m *Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req := c.Request()
			id := req.Header.Get(RequestIDHeader)
			if !safeID.MatchString(id) {
				id = newID()
			}
			c.Response().Header().Set(RequestIDHeader, id)
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), ctxKey{}, id)))
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			d := time.Since(start)
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			status := c.Response().Status
			if m != nil {
				m.observe(req.Method, route, status, d)
			}
			if log != nil {
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				attrs := []slog.Attr{
					slog.String("method", req.Method),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000),
					slog.Int64("bytes", c.Response().Size),
					slog.String("request_id", id),
				}
				if err != nil && status >= 500 {
					attrs = append(attrs, slog.String("err", err.Error()))
				}
				log.LogAttrs(req.Context(), level, "request", attrs...)
			}
			return nil
		}
	}
}
