package handlers

import (
	"encoding/csv"
	"io"
	"regexp"
)

// plainNumber is a cell a spreadsheet reads as a number, never a formula
// (a negative amount in an export stays a number).
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// CSVCell neutralises a cell a spreadsheet would run as a formula (CSV
// injection): one starting with =, +, -, @, a tab or a carriage return gets a
// leading ' as OWASP advises. Plain numbers are left alone.
func CSVCell(s string) string {
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// CSVWriter is a csv.Writer whose every cell goes through CSVCell: use it for
// every CSV export (audit log, wallet) so none can carry a formula.
type CSVWriter struct {
	*csv.Writer
}

// NewCSVWriter writes safe CSV to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{csv.NewWriter(w)} }

// Write writes one record, each cell neutralised.
func (w *CSVWriter) Write(record []string) error {
	safe := make([]string, len(record))
	for i, c := range record {
		safe[i] = CSVCell(c)
	}
	return w.Writer.Write(safe)
}
