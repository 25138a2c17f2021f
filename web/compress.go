package web

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
)

// compressMin is the smallest body worth compressing: below it the gzip
// header and the CPU cost more than they save.
const compressMin = 1024

// compress gzips pages and JSON for clients that accept it (every browser):
// a large org's members or team page is tens of kilobytes of HTML that
// shrinks about tenfold. It uses klauspost/compress (already a dependency
// through the Prometheus client) at BestSpeed: under load the standard
// library's deflate was a quarter of the server's CPU on a 20 KB page, and
// this one does the same work in about half the time. Bodies under
// compressMin go out as they are. Static files have their own handler
// (precompressed), and probes and /metrics are left alone.
func compress() echo.MiddlewareFunc {
	pool := &sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := c.Request().URL.Path
			if strings.HasPrefix(p, "/static/") || p == "/metrics" || p == "/healthz" || p == "/readyz" {
				return next(c)
			}
			res := c.Response()
			res.Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
			if !acceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
				return next(c)
			}
			w := &gzipWriter{ResponseWriter: res.Writer, pool: pool}
			res.Writer = w
			defer func() {
				w.finish()
				res.Writer = w.ResponseWriter
			}()
			return next(c)
		}
	}
}

// acceptsGzip reads Accept-Encoding: gzip listed without q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// gzipWriter holds the first compressMin bytes back to decide: a short body
// goes out unchanged, a longer one compressed. The status waits with it,
// since Content-Encoding must be set before the header is sent.
type gzipWriter struct {
	http.ResponseWriter
	pool    *sync.Pool
	gz      *gzip.Writer
	buf     []byte
	status  int
	decided bool // headers sent; gz != nil means compressing
}

func (w *gzipWriter) WriteHeader(code int) {
	if w.decided || w.status != 0 {
		return
	}
	w.status = code
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		w.decide(false) // no body to compress
	}
}

func (w *gzipWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.decided {
		if len(w.buf)+len(b) < compressMin {
			w.buf = append(w.buf, b...)
			return len(b), nil
		}
		// Long enough: what was held goes out first, then b as it is (a
		// page comes in one write, and copying it here was the largest
		// allocation of a request).
		if err := w.decide(true); err != nil {
			return 0, err
		}
	}
	if w.gz != nil {
		return w.gz.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// decide sends the header, compressed or not, and what was held back.
func (w *gzipWriter) decide(gz bool) error {
	w.decided = true
	h := w.ResponseWriter.Header()
	if gz && h.Get(echo.HeaderContentEncoding) == "" {
		h.Set(echo.HeaderContentEncoding, "gzip")
		h.Del(echo.HeaderContentLength)
		w.gz = w.pool.Get().(*gzip.Writer)
		w.gz.Reset(w.ResponseWriter)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(w.status)
	buf := w.buf
	w.buf = nil
	if len(buf) == 0 {
		return nil
	}
	var err error
	if w.gz != nil {
		_, err = w.gz.Write(buf)
	} else {
		_, err = w.ResponseWriter.Write(buf)
	}
	return err
}

// Flush sends what is held (compressed if it is long enough) and flushes.
func (w *gzipWriter) Flush() {
	if !w.decided {
		_ = w.decide(len(w.buf) >= compressMin)
	}
	if w.gz != nil {
		_ = w.gz.Flush()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (nothing was compressed yet).
func (w *gzipWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *gzipWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish ends the response: a held short body goes out as it is, a gzip
// stream is closed and its writer returned to the pool.
func (w *gzipWriter) finish() {
	if !w.decided {
		if w.status == 0 && len(w.buf) == 0 {
			return // the handler wrote nothing (an error the caller renders)
		}
		_ = w.decide(false)
	}
	if w.gz != nil {
		_ = w.gz.Close()
		w.gz.Reset(nil)
		w.pool.Put(w.gz)
		w.gz = nil
	}
}
