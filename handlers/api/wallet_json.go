package api

import "guildhall/db/model"

// GET /api/orgs/{org}/wallet/transactions answers up to 200 postings a page;
// encoding/json spent most of the call's CPU on them by reflection.
// appendLedgerList writes the bytes c.JSON writes for the same Envelope with
// the teams' helpers (see teams_json.go); wallet_json_test.go compares the
// two byte for byte.

// appendLedgerEntry appends posting number i (from 0) of a list as
// model.LedgerEntry encodes, or returns nil when encoding/json would refuse
// it. created_at is time.Time's own MarshalJSON (RFC 3339 with its
// fraction, in the time's zone), not rfc3339's form.
func appendLedgerEntry(b []byte, i int, e *model.LedgerEntry) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = appendKeyInt(b, `{"id":`, e.ID)
	b = appendKeyInt(b, `,"transaction_id":`, e.TxnID)
	b = appendKeyInt(b, `,"org_id":`, e.OrgID)
	b = appendKeyString(b, `,"kind":`, e.Kind)
	b = appendKeyInt(b, `,"amount_cents":`, e.AmountCents)
	b = appendKeyInt(b, `,"balance_after_cents":`, e.BalanceAfterCents)
	b = appendKeyIntPtr(b, `,"user_id":`, e.AccountID)
	b = appendKeyIntPtr(b, `,"token_id":`, e.TokenID)
	b = appendKeyIntPtr(b, `,"package_id":`, e.PackageID)
	b = appendKeyString(b, `,"note":`, e.Note)
	b = append(b, `,"created_at":"`...)
	// AppendText is MarshalJSON without the quotes, and fails where it does
	// (a year outside 0-9999, a zone of 24 hours or more).
	b, err := e.CreatedAt.AppendText(b)
	if err != nil {
		return nil
	}
	return append(b, `"}`...)
}

// appendCursorPagination appends p as the Envelope's pagination.
func appendCursorPagination(b []byte, p CursorPagination) []byte {
	b = append(b, `,"pagination":{"next_cursor":`...)
	if p.NextCursor == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *p.NextCursor)
	}
	return append(b, '}')
}

// appendLedgerList appends the Envelope of GET
// /api/orgs/{org}/wallet/transactions: the postings, and p; nil when
// encoding/json would refuse one of them.
func appendLedgerList(b []byte, es []model.LedgerEntry, p CursorPagination) []byte {
	b = append(b, `{"success":true,"data":[`...)
	for i := range es {
		if b = appendLedgerEntry(b, i, &es[i]); b == nil {
			return nil
		}
	}
	b = append(b, ']')
	b = appendCursorPagination(b, p)
	return append(b, "}\n"...)
}

// ledgerListSize guesses the encoded size of es, so the buffer grows once
// at most: a posting's keys, numbers and time are about 280 bytes, then its
// texts.
func ledgerListSize(es []model.LedgerEntry) int {
	n := 96
	for i := range es {
		n += 280 + len(es[i].Kind) + len(es[i].Note)
	}
	return n
}
