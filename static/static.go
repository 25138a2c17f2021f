// Package static embeds the stylesheet, icons, the page script and vendored
// htmx, and serves them under names that carry a hash of their content, so
// browsers may keep them for a year and still never run a stale copy.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// embedded is the asset table of this binary: it depends only on the
// embedded files, so it is computed once and never changes (not state).
var embedded = sync.OnceValue(Load)

// Path is the hashed URL of an embedded file by its plain name; see
// Assets.Path. The layout calls it for every stylesheet and script.
func Path(name string) string { return embedded().Path(name) }

// Handler serves the embedded files below /static/ (strip the prefix first).
func Handler() http.Handler { return embedded() }

// Files are the embedded assets under their plain names.
//
//go:embed app.css favicon.svg vendor js
var Files embed.FS

// asset is one file kept in memory, with a gzip copy when that is smaller.
type asset struct {
	name   string // plain name, e.g. app.css
	hashed string // e.g. app.3f2a9c1b0d4e.css
	body   []byte
	gz     []byte
	ctype  string
	etag   string
}

// Assets are the embedded files, read and hashed once.
type Assets struct {
	byPlain  map[string]*asset
	byHashed map[string]*asset
}

// Load reads every embedded file. It panics only if the embedded tree is
// unreadable, which the build would already have caught.
func Load() *Assets {
	a := &Assets{byPlain: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := Files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(p)
		as := &asset{name: p, hashed: strings.TrimSuffix(p, ext) + "." + h + ext, body: body,
			ctype: mime.TypeByExtension(ext), etag: `"` + h + `"`}
		if as.ctype == "" {
			as.ctype = "application/octet-stream"
		}
		if compressible(as.ctype) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if buf.Len() < len(body) {
				as.gz = buf.Bytes()
			}
		}
		a.byPlain[p] = as
		a.byHashed[as.hashed] = as
		return nil
	})
	if err != nil {
		panic("static: " + err.Error())
	}
	return a
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "svg") || strings.Contains(ctype, "json")
}

// Path is the URL of a file by its plain name ("app.css",
// "vendor/htmx.min.js"): its hashed name under /static/. An unknown name is
// returned unhashed, so a typo shows as a 404 rather than a panic.
func (a *Assets) Path(name string) string {
	if as, ok := a.byPlain[name]; ok {
		return "/static/" + as.hashed
	}
	return "/static/" + name
}

// ServeHTTP serves a file by its path below /static/. Hashed names are
// immutable and cached for a year; plain names (old links, favicon guesses)
// are revalidated. Both answer HEAD and gzip when the client accepts it.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	as, hashed := a.byHashed[name]
	if !hashed {
		as = a.byPlain[name]
	}
	if as == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if hashed {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300, must-revalidate")
	}
	h.Set("Content-Type", as.ctype)
	h.Set("ETag", as.etag)
	body := as.body
	if as.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = as.gz
		}
	}
	// ServeContent answers HEAD, ranges and If-None-Match against the ETag.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
