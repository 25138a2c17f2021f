// Package static embeds the stylesheet, icons and vendored htmx.
package static

import "embed"

// Files are served under /static/.
//
//go:embed app.css favicon.svg vendor js
var Files embed.FS
