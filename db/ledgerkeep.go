package db

import (
	"slices"
	"sync"
	"sync/atomic"

	"guildhall/db/model"
)

// keptLedgerPage is the first page of an org's wallet history, unfiltered,
// as the wallet page shows it, kept by one server with what it was read
// under: the org's newest posting and names_epoch (migration 00024). Both
// are read in the wallet page's first statement, in the snapshot of the
// page. The page was read no earlier than they were, so when a later page
// reads the same two, nothing the page shows changed in between: a new
// posting has a higher id (the wallet row's lock orders an org's postings),
// and every change to a name it shows moves the epoch in its transaction.
type keptLedgerPage struct {
	newest, epoch int64
	page          EntryPage // read-only once kept
}

// keptLedgerPagesMax bounds a server's pages (about 6 KB each).
const keptLedgerPagesMax = 2000

// ledgerKeep holds the pages by org id. The zero value is ready.
type ledgerKeep struct {
	mu     sync.Mutex
	m      map[int64]*keptLedgerPage
	hits   atomic.Int64
	misses atomic.Int64
}

// keepsLedgerPage tells whether f asks for the page a ledgerKeep holds:
// the wallet page's first page, with names and no filter.
func keepsLedgerPage(f model.EntryFilter) bool {
	return f.Kind == "" && f.UserID == 0 && f.Before == 0 && !f.NoNames && f.Limit == WalletPageEntries
}

// get answers a copy of org's page when it was kept under newest and epoch.
func (k *ledgerKeep) get(org, newest, epoch int64) (EntryPage, bool) {
	k.mu.Lock()
	c := k.m[org]
	k.mu.Unlock()
	if c == nil || c.newest != newest || c.epoch != epoch {
		k.misses.Add(1)
		return EntryPage{}, false
	}
	k.hits.Add(1)
	return EntryPage{Entries: slices.Clone(c.page.Entries), Next: c.page.Next}, true
}

// put keeps a copy of page for org, unless a page read under later
// versions is already there. When full it drops an arbitrary tenth.
func (k *ledgerKeep) put(org, newest, epoch int64, page EntryPage) {
	c := &keptLedgerPage{newest: newest, epoch: epoch, page: EntryPage{Entries: slices.Clone(page.Entries), Next: page.Next}}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[int64]*keptLedgerPage)
	}
	if old := k.m[org]; old == nil && len(k.m) >= keptLedgerPagesMax {
		n := keptLedgerPagesMax / 10
		for id := range k.m {
			delete(k.m, id)
			if n--; n == 0 {
				break
			}
		}
	} else if old != nil && (old.newest > newest || old.epoch > epoch) {
		return
	}
	k.m[org] = c
}

// LedgerKeepStats reports how often the wallet page found its history's
// first page kept (for /metrics).
func (s *Store) LedgerKeepStats() (hits, misses int64) {
	return s.ledger.hits.Load(), s.ledger.misses.Load()
}
