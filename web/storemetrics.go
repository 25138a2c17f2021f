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
	sessionKeepDesc = prometheus.NewDesc("guildhall_session_keep_total",
		"Signed-in pages on this server by whether the session's account and workspaces came from its kept copy (hit) or were read again (miss).",
		[]string{"outcome"}, nil)
	ledgerKeepDesc = prometheus.NewDesc("guildhall_ledger_keep_total",
		"Wallet pages on this server by whether the first page of history came from its kept copy (hit) or was read again (miss).",
		[]string{"outcome"}, nil)
)

// storeCollector reads the store's counters (wallet batches and purchases,
// kept sessions and wallet history pages) at scrape time: db keeps them
// without a metrics library.
type storeCollector struct{ store *db.Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- walletBatchDesc
	ch <- walletPurchasesDesc
	ch <- sessionKeepDesc
	ch <- ledgerKeepDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	hits, misses := c.store.SessionKeepStats()
	ch <- prometheus.MustNewConstMetric(sessionKeepDesc, prometheus.CounterValue, float64(hits), "hit")
	ch <- prometheus.MustNewConstMetric(sessionKeepDesc, prometheus.CounterValue, float64(misses), "miss")
	hits, misses = c.store.LedgerKeepStats()
	ch <- prometheus.MustNewConstMetric(ledgerKeepDesc, prometheus.CounterValue, float64(hits), "hit")
	ch <- prometheus.MustNewConstMetric(ledgerKeepDesc, prometheus.CounterValue, float64(misses), "miss")
	st := c.store.WalletStats()
	ch <- prometheus.MustNewConstHistogram(walletBatchDesc, st.Batches, float64(st.Purchases), st.Buckets)
	for outcome, n := range st.Outcomes {
		ch <- prometheus.MustNewConstMetric(walletPurchasesDesc, prometheus.CounterValue, float64(n), outcome)
	}
}

// registerStoreMetrics adds the store's collector to the server's
// registry; a registry shared by several servers on one store keeps the
// first.
func (s *Server) registerStoreMetrics() {
	err := s.metrics.Registry.Register(storeCollector{store: s.store})
	var are prometheus.AlreadyRegisteredError
	if err != nil && !errors.As(err, &are) {
		panic(err) // a clash of metric names is a programming error
	}
}
