package web

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"guildhall/db"
)

var (
	walletBatchDesc = prometheus.NewDesc("guildhall_wallet_batch_size",
		"Purchases per group-commit batch of the wallet writers of this server (one transaction each).", nil, nil)
	walletPurchasesDesc = prometheus.NewDesc("guildhall_wallet_purchases_total",
		"Purchases (buys and approvals) answered by this server, by outcome: completed, pending_approval, replayed, or the error code.",
		[]string{"outcome"}, nil)
)

// walletCollector reads the store's wallet counters at scrape time (db keeps
// them without a metrics library).
type walletCollector struct{ store *db.Store }

func (c walletCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- walletBatchDesc
	ch <- walletPurchasesDesc
}

func (c walletCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.WalletStats()
	ch <- prometheus.MustNewConstHistogram(walletBatchDesc, st.Batches, float64(st.Purchases), st.Buckets)
	for outcome, n := range st.Outcomes {
		ch <- prometheus.MustNewConstMetric(walletPurchasesDesc, prometheus.CounterValue, float64(n), outcome)
	}
}

// registerWalletMetrics adds the wallet's collector to the server's
// registry; a registry shared by several servers on one store keeps the
// first.
func (s *Server) registerWalletMetrics() {
	err := s.metrics.Registry.Register(walletCollector{store: s.store})
	var are prometheus.AlreadyRegisteredError
	if err != nil && !errors.As(err, &are) {
		panic(err) // a clash of metric names is a programming error
	}
}
