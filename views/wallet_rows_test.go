package views

import "testing"

// TestHandWrittenEntryRow: EntryRowLine writes exactly what its templ
// original writes, for every ledger kind, credit and debit, with a package
// link or a note, and text that needs escaping.
func TestHandWrittenEntryRow(t *testing.T) {
	kinds := []string{"top_up", "auto_top_up", "purchase", "refund", "transfer_in", "transfer_out"}
	for _, kind := range kinds {
		for _, credit := range []bool{true, false} {
			for _, pkg := range [][2]string{{"", ""}, {"/packages/12", `Pack <"one"> & 'two'`}} {
				for _, text := range []string{"owner@example.com", `<b>"x" & 'y'</b>`, ""} {
					e := EntryRow{ID: 1234567, When: "2 hours ago", WhenFull: "Nov 30, 2026 " + text, Kind: kind, Amount: "+$10.00 " + text,
						Credit: credit, After: "$1,234.56", Actor: text, Package: pkg[1], PkgHref: pkg[0], Note: "note " + text}
					if got, want := renderString(t, EntryRowLine(e)), renderString(t, entryRowTempl(e)); got != want {
						t.Fatalf("entry row %+v:\n got %s\nwant %s", e, got, want)
					}
				}
			}
		}
	}
}
