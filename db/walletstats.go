package db

import (
	"errors"
	"sync"

	"guildhall/db/model"
)

// WalletBatchBuckets are the upper bounds of the group-commit batch-size
// histogram (powers of two up to maxBatch).
var WalletBatchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// walletStats counts this process's group-commit batches and purchase
// outcomes for /metrics (web/metrics.go reads them at scrape time, so db
// needs no metrics library).
type walletStats struct {
	mu       sync.Mutex
	buckets  []uint64 // per bucket of WalletBatchBuckets, not cumulative
	count    uint64
	sum      uint64
	outcomes map[string]uint64
}

func newWalletStats() *walletStats {
	return &walletStats{buckets: make([]uint64, len(WalletBatchBuckets)), outcomes: map[string]uint64{}}
}

// WalletStats is a snapshot of the counters.
type WalletStats struct {
	Batches   uint64             // batches committed
	Purchases uint64             // purchases in them
	Buckets   map[float64]uint64 // cumulative count of batches of at most each size
	Outcomes  map[string]uint64  // purchases by outcome
}

func (ws *walletStats) batch(n int) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.count++
	ws.sum += uint64(n)
	for i, b := range WalletBatchBuckets {
		if float64(n) <= b {
			ws.buckets[i]++
			return
		}
	}
}

// outcome names a purchase's result: completed, pending_approval, replayed,
// the SPEC error code of a refusal, or error for anything else.
func outcome(res BuyResult, replayed bool, err error) string {
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) && me.Code != "" {
			return string(me.Code)
		}
		return "error"
	}
	if replayed {
		return "replayed"
	}
	return res.Status
}

func (ws *walletStats) purchase(res BuyResult, replayed bool, err error) {
	o := outcome(res, replayed, err)
	ws.mu.Lock()
	ws.outcomes[o]++
	ws.mu.Unlock()
}

// WalletStats reports this process's group-commit batch sizes and purchase
// outcomes (Buy and Approve).
func (s *Store) WalletStats() WalletStats {
	ws := s.wstats
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := WalletStats{Batches: ws.count, Purchases: ws.sum, Buckets: map[float64]uint64{}, Outcomes: map[string]uint64{}}
	var cum uint64
	for i, b := range WalletBatchBuckets {
		cum += ws.buckets[i]
		out.Buckets[b] = cum
	}
	for k, v := range ws.outcomes {
		out.Outcomes[k] = v
	}
	return out
}
