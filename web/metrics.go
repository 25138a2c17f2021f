package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"guildhall/db"
	"guildhall/web/observability"
)

// NewMetrics is the registry for a server on store: requests, the database
// pool and the mail queue. Pass it in Options.Metrics and serve Handler on a
// separate address, or set GUILDHALL_METRICS_TOKEN to serve /metrics here.
func NewMetrics(store *db.Store, log *slog.Logger) *observability.Metrics {
	mail := func(ctx context.Context) (observability.MailStats, error) {
		c, err := store.MailQueueStats(ctx)
		return observability.MailStats{Pending: c.Pending, Retrying: c.Retrying, Failed: c.Failed, Sent: c.Sent}, err
	}
	return observability.NewMetrics(store.DB().DB, mail, log)
}

// Metrics is the server's registry (other areas register collectors on
// Metrics().Registry).
func (s *Server) Metrics() *observability.Metrics { return s.metrics }

// MetricsHandler serves /metrics for a separate listen address (no token),
// and Go's profiler under /debug/pprof/: that address is meant for the
// operator's network only, never the public listener.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler(""))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
