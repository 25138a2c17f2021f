package web

import (
	"compress/gzip"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// compress gzips pages and JSON for clients that accept it (every browser):
// a large org's members or team page is tens of kilobytes of HTML that
// shrinks about tenfold. BestSpeed keeps the CPU cost small; bodies under
// 1 KB are sent as they are. Static files are left to their own handler.
func compress() echo.MiddlewareFunc {
	return middleware.GzipWithConfig(middleware.GzipConfig{
		Level:     gzip.BestSpeed,
		MinLength: 1024,
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return strings.HasPrefix(p, "/static/") || p == "/metrics" || p == "/healthz" || p == "/readyz"
		},
	})
}
