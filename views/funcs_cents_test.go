package views

import (
	"math"
	"testing"
)

func TestCents(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "$0.00"}, {5, "$0.05"}, {10, "$0.10"}, {99, "$0.99"}, {100, "$1.00"}, {123405, "$1234.05"},
		{-1, "-$0.01"}, {-123405, "-$1234.05"}, {100000000, "$1000000.00"},
		{math.MaxInt64, "$92233720368547758.07"}, {math.MinInt64, "-$92233720368547758.08"},
	} {
		if got := Cents(c.in); got != c.want {
			t.Errorf("Cents(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Cents(123405) }); n > 1 {
		t.Errorf("Cents allocates %v times, want 1", n)
	}
}
