package web

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
)

// The compressing writer sends exactly what the handler wrote, however the
// handler splits it: one write of a whole page (taken without a copy), many
// small ones that cross compressMin, a short body held and sent as it is,
// and a body that ends just under the threshold.
func TestGzipWriterKeepsEveryByte(t *testing.T) {
	page := strings.Repeat("<tr><td>member</td><td>admin</td></tr>\n", 900) // 35 KB
	cases := map[string]struct {
		writes []string
		gzip   bool
	}{
		"one write":            {writes: []string{page}, gzip: true},
		"small writes":         {writes: strings.SplitAfter(page, "\n"), gzip: true},
		"held, then a big one": {writes: []string{page[:700], page[700:]}, gzip: true},
		"held, then crossing":  {writes: []string{page[:700], page[700:1100], page[1100:]}, gzip: true},
		"short":                {writes: []string{"ok"}, gzip: false},
		"just under":           {writes: []string{page[:600], page[600 : compressMin-1]}, gzip: false},
		"exactly the minimum":  {writes: []string{page[:compressMin]}, gzip: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := echo.New()
			e.Use(compress())
			e.GET("/p", func(c echo.Context) error {
				c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
				c.Response().WriteHeader(http.StatusOK)
				for _, w := range tc.writes {
					if _, err := io.WriteString(c.Response(), w); err != nil {
						return err
					}
				}
				return nil
			})
			req := httptest.NewRequest(http.MethodGet, "/p", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			want := strings.Join(tc.writes, "")
			got := rec.Body.Bytes()
			if enc := rec.Header().Get("Content-Encoding"); (enc == "gzip") != tc.gzip {
				t.Fatalf("Content-Encoding %q, want gzip %v", enc, tc.gzip)
			}
			if tc.gzip {
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != want {
				t.Fatalf("sent %d bytes, the handler wrote %d", len(got), len(want))
			}
		})
	}
}
