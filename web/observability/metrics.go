package observability

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the server's Prometheus registry. Other areas add their own
// collectors to Registry (e.g. the wallet's batch sizes):
//
//	m.Registry.MustRegister(myHistogram)
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.HistogramVec
}

// MailStats is the mail queue as the database sees it (all servers).
type MailStats struct {
	Pending  int64 // waiting for delivery, retries included
	Retrying int64 // pending after at least one failed attempt
	Failed   int64 // given up after the last attempt
	Sent     int64
}

// MailStatsFunc reads the queue (db.Store.MailQueueStats).
type MailStatsFunc func(ctx context.Context) (MailStats, error)

// NewMetrics builds the registry: Go runtime and process metrics, request
// durations by route and status, the database pool (db may be nil) and the
// mail queue (mail may be nil).
func NewMetrics(db *sql.DB, mail MailStatsFunc, log *slog.Logger) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "guildhall",
			Name:      "http_request_duration_seconds",
			Help:      "Time to answer a request, by method, route pattern and status.",
			Buckets:   []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"method", "route", "status"}),
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.requests)
	if db != nil {
		r.MustRegister(collectors.NewDBStatsCollector(db, "guildhall"))
	}
	if mail != nil {
		r.MustRegister(&mailCollector{stats: mail, log: log})
	}
	return m
}

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format. With a token,
// it answers only requests bearing it (Authorization: Bearer <token>).
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

var (
	mailPendingDesc  = prometheus.NewDesc("guildhall_mail_queue_depth", "Mail waiting for delivery (retries included), all servers.", nil, nil)
	mailRetryingDesc = prometheus.NewDesc("guildhall_mail_queue_retrying", "Queued mail whose last delivery attempt failed.", nil, nil)
	mailFailedDesc   = prometheus.NewDesc("guildhall_mail_failed", "Mail given up after the last attempt.", nil, nil)
	mailSentDesc     = prometheus.NewDesc("guildhall_mail_sent", "Mail delivered.", nil, nil)
)

// mailCollector reads the queue from the database at scrape time, so every
// server reports the one shared queue.
type mailCollector struct {
	stats MailStatsFunc
	log   *slog.Logger
}

func (c *mailCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- mailPendingDesc
	ch <- mailRetryingDesc
	ch <- mailFailedDesc
	ch <- mailSentDesc
}

func (c *mailCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		if c.log != nil {
			c.log.Warn("metrics: mail queue", "err", err)
		}
		ch <- prometheus.NewInvalidMetric(mailPendingDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(mailPendingDesc, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(mailRetryingDesc, prometheus.GaugeValue, float64(s.Retrying))
	ch <- prometheus.MustNewConstMetric(mailFailedDesc, prometheus.GaugeValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(mailSentDesc, prometheus.GaugeValue, float64(s.Sent))
}
