package web

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
)

// errBadText answers any request carrying text PostgreSQL would refuse.
var errBadText = &model.Error{Code: model.CodeValidation, Message: "The request contains text that is not valid UTF-8 or contains a NUL byte."}

// badField names the offending field (a form or JSON field, a query
// parameter, a header), so a script's author knows what to fix.
func badField(name string) error {
	if !model.ValidText(name) || name == "" || len(name) > 100 {
		return errBadText
	}
	msg := name + " is not valid text: it must be UTF-8 without NUL bytes."
	return &model.Error{Code: model.CodeValidation, Message: msg, Fields: map[string]string{name: msg}}
}

// headersRead are the request headers whose values reach handlers, the
// audit log or the sessions table.
var headersRead = []string{
	"User-Agent", echo.HeaderXForwardedFor, echo.HeaderXRealIP, echo.HeaderAuthorization,
	"X-CSRF-Token", "HX-Request", "HX-Target", "HX-Current-URL", echo.HeaderContentType,
}

// maxMultipartMemory bounds a parsed multipart form held in memory.
const maxMultipartMemory = 8 << 20

// cleanInput is the one place at the edge that decides what text may enter:
// every header we read, the path (and so its params), the query, form values
// and every string (and key) of a JSON body must be valid UTF-8 without NUL.
// Anything else is a 422 (the JSON envelope for /api, the error page
// otherwise) before a handler or the database sees it. Lengths are the
// validators' business; values we keep unasked (user agent) are cut at a
// rune boundary by model.CleanText.
func cleanInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		for _, h := range headersRead {
			for _, v := range r.Header.Values(h) {
				if !model.ValidText(v) {
					return badField(h)
				}
			}
		}
		if !model.ValidText(r.URL.Path) || !model.ValidText(r.URL.RawPath) {
			return errBadText
		}
		for _, v := range c.ParamValues() {
			if !model.ValidText(v) {
				return errBadText
			}
		}
		// Pairs the parser skips (a bad escape, a semicolon) never reach a
		// handler either (echo parses the same way), so only the rest matter.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if err := validValues(q); err != nil {
			return err
		}
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		if isAPI(r) {
			// API handlers decode any body as JSON, whatever its type says
			// (curl -d sends JSON as a form): never parse it as a form here.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err // the body limit's 413, or a broken connection
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if err := validJSONText(body); err != nil {
				return err
			}
			return next(c)
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		switch ct {
		case echo.MIMEApplicationForm:
			if err := r.ParseForm(); err != nil {
				return &model.Error{Code: model.CodeValidation, Message: "The form is malformed."}
			}
			if err := validValues(r.PostForm); err != nil {
				return err
			}
		case echo.MIMEMultipartForm:
			if err := r.ParseMultipartForm(maxMultipartMemory); err != nil {
				return &model.Error{Code: model.CodeValidation, Message: "The form is malformed."}
			}
			if err := validValues(r.MultipartForm.Value); err != nil {
				return err
			}
		}
		return next(c)
	}
}

func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

func validValues(v map[string][]string) error {
	for k, vs := range v {
		if !model.ValidText(k) {
			return errBadText
		}
		for _, s := range vs {
			if !model.ValidText(s) {
				return badField(k)
			}
		}
	}
	return nil
}

// validJSONText checks the raw bytes (encoding/json would silently turn
// invalid UTF-8 into U+FFFD) and every decoded string and key (an escaped
// \u0000 is a NUL once decoded). Malformed JSON is left to the handler's own
// decoder, which answers it.
func validJSONText(body []byte) error {
	if !model.ValidText(string(body)) {
		var v map[string]json.RawMessage
		if json.Unmarshal(body, &v) == nil {
			for k, raw := range v {
				if !model.ValidText(string(raw)) {
					return badField(k)
				}
			}
		}
		return errBadText
	}
	if !bytes.Contains(body, []byte(`\u`)) {
		return nil // no escapes: the raw check was enough
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil
	}
	if top, ok := v.(map[string]any); ok {
		for k, e := range top {
			if !model.ValidText(k) {
				return errBadText
			}
			if !validJSONValue(e) {
				return badField(k)
			}
		}
		return nil
	}
	if !validJSONValue(v) {
		return errBadText
	}
	return nil
}

func validJSONValue(v any) bool {
	switch x := v.(type) {
	case string:
		return model.ValidText(x)
	case []any:
		for _, e := range x {
			if !validJSONValue(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if !model.ValidText(k) || !validJSONValue(e) {
				return false
			}
		}
	}
	return true
}
