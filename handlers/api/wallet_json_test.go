package api

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"guildhall/db/model"
)

// TestLedgerEncoder: appendLedgerList writes the bytes c.JSON writes for
// the Envelope Transactions answered before: every kind, null and set ids,
// odd notes, created_at as time.Time marshals (fraction trimmed, the time's
// own zone, a zone of seconds, the driver's unnamed UTC), the cursor null
// or not, empty lists. A time encoding/json refuses gives nil, and the
// route then fails as c.JSON did.
func TestLedgerEncoder(t *testing.T) {
	kinds := []string{"top_up", "auto_top_up", "purchase", "refund", "transfer_in", "transfer_out", "odd <kind> & \"q\""}
	ids := []*int64{nil, int64p(0), int64p(31), int64p(-2), int64p(1 << 62)}
	times := append(append([]time.Time{}, oddTimes[:5]...), time.Now(), time.Date(2026, 5, 6, 7, 8, 9, 120000000, time.FixedZone("", 0)),
		time.Date(1890, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -(17*60+30))), time.Date(2026, 1, 1, 0, 0, 0, 7, time.FixedZone("", 23*3600+59*60)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
	var es []model.LedgerEntry
	for i := range 3 * len(times) {
		es = append(es, model.LedgerEntry{ID: int64(500 + i), TxnID: int64(400 + i/2), OrgID: 9, Kind: kinds[i%len(kinds)],
			AmountCents: int64((i - 10) * 1250), BalanceAfterCents: int64(i * 999), AccountID: ids[i%len(ids)], TokenID: ids[(i+1)%len(ids)],
			PackageID: ids[(i+3)%len(ids)], Note: oddStrings[i%len(oddStrings)], CreatedAt: times[i%len(times)],
			ActorEmail: "not encoded", PackageName: "not encoded"})
	}
	cursors := []CursorPagination{NewCursor(0), NewCursor(12345), NewCursor(-1)}
	for k, list := range [][]model.LedgerEntry{{}, es[:1], es[5:6], es} {
		p := cursors[k%len(cursors)]
		data := func() any { return Envelope{Success: true, Data: list, Pagination: p} }
		want := encodeAsEcho(t, data())
		if got := string(appendLedgerList(nil, list, p)); got != want {
			t.Errorf("%d postings:\n got %s\nwant %s", len(list), got, want)
		}
		if got := string(appendLedgerList(make([]byte, 0, ledgerListSize(list)), list, p)); got != want {
			t.Errorf("%d postings, sized: differs", len(list))
		}
		sameAnswers(t, fmt.Sprintf("%d postings", len(list)), func(b []byte) []byte { return appendLedgerList(b, list, p) }, data)
	}
	for _, e := range es {
		p := cursors[1]
		want := encodeAsEcho(t, Envelope{Success: true, Data: []model.LedgerEntry{e}, Pagination: p})
		if got := string(appendLedgerList(nil, []model.LedgerEntry{e}, p)); got != want {
			t.Errorf("posting %d (%v):\n got %s\nwant %s", e.ID, e.CreatedAt, got, want)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600)), time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", -25*3600))} {
		bad := append(append([]model.LedgerEntry{}, es[:2]...), model.LedgerEntry{ID: 1, CreatedAt: tm})
		if _, err := json.Marshal(bad); err == nil {
			t.Fatalf("encoding/json takes %v", tm)
		}
		if got := appendLedgerList(nil, bad, cursors[0]); got != nil {
			t.Errorf("time %v: got %s, want nil", tm, got)
		}
		data := func() any { return Envelope{Success: true, Data: bad, Pagination: cursors[0]} }
		sameAnswers(t, fmt.Sprintf("refused time %v", tm), func(b []byte) []byte { return appendLedgerList(b, bad, cursors[0]) }, data)
	}
}

// BenchmarkLedgerList50: a page of 50 postings, hand-written (its buffer
// included) against what Transactions did before (c.JSON's encoder writing
// to the response).
func BenchmarkLedgerList50(b *testing.B) {
	es := make([]model.LedgerEntry, 50)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 678912000, time.UTC)
	for i := range es {
		es[i] = model.LedgerEntry{ID: int64(9000 - i), TxnID: int64(4000 - i), OrgID: 77, Kind: "purchase", AmountCents: -1999,
			BalanceAfterCents: int64(100000 - 1999*i), AccountID: int64p(12), PackageID: int64p(300 + int64(i%7)),
			Note: "Bought Support toolkit (monthly)", CreatedAt: t0.Add(-time.Duration(i) * time.Hour)}
		if i%4 == 0 {
			es[i].Kind, es[i].AmountCents, es[i].PackageID, es[i].TokenID, es[i].Note = "top_up", 50000, nil, int64p(8), ""
		}
	}
	p := NewCursor(8950)
	want := encodeAsEcho(b, Envelope{Success: true, Data: es, Pagination: p})
	if got := string(appendLedgerList(nil, es, p)); got != want {
		b.Fatalf("the encoders differ:\n got %s\nwant %s", got, want)
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			_ = appendLedgerList(make([]byte, 0, ledgerListSize(es)), es, p)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if err := json.NewEncoder(io.Discard).Encode(Envelope{Success: true, Data: es, Pagination: p}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
