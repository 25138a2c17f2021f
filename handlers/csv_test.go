package handlers

import (
	"strings"
	"testing"
)

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"plain":                    "plain",
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1+cmd|' /C calc'!A0":     "'+1+cmd|' /C calc'!A0",
		"-2+3":                     "'-2+3",
		"@SUM(A1:A2)":              "'@SUM(A1:A2)",
		"\t=1":                     "'\t=1",
		"\r=1":                     "'\r=1",
		"-42":                      "-42",
		"-0.50":                    "-0.50",
		"12":                       "12",
		"a=b":                      "a=b",
		"ada@example.com":          "ada@example.com",
	} {
		if got := CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
	var b strings.Builder
	w := NewCSVWriter(&b)
	_ = w.Write([]string{"=1+1", "ok", "-7"})
	w.Flush()
	if b.String() != "'=1+1,ok,-7\n" {
		t.Errorf("writer: %q", b.String())
	}
}
