package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// APIError is the error envelope of SPEC 11:
// {"success": false, "error": {"code", "message", "details"}}.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Fields are the per-field messages of a validation error.
	Fields map[string]string
	// relogin: the request carried the stored token, so a 401 means that
	// token is dead and the user should log in again.
	relogin bool
}

func (e *APIError) Error() string { return e.Message + " (" + e.Code + ")" }

// fieldLines are the field messages that the main message does not already say.
func (e *APIError) fieldLines() []string {
	keys := make([]string, 0, len(e.Fields))
	for k, msg := range e.Fields {
		if msg != e.Message {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+": "+e.Fields[k])
	}
	return lines
}

// client calls one server's JSON API, with a bearer token when it has one.
type client struct {
	http    *http.Client
	base    string
	token   string
	headers map[string]string // extra request headers (Idempotency-Key)
}

func (r *runner) client(c Config) *client {
	return &client{http: r.env.HTTP, base: c.URL, token: c.Token}
}

type envelope struct {
	Success *bool           `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
	} `json:"error"`
}

// do sends body (nil for none) as JSON and decodes the envelope's data into
// out (nil to ignore it). A failed envelope is an *APIError.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Guildhall server at %s: %w", c.base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Success == nil {
		return fmt.Errorf("unexpected answer from %s (HTTP %d): is this a Guildhall server?", c.base, res.StatusCode)
	}
	if !*env.Success {
		ae := &APIError{Status: res.StatusCode, Code: "error", Message: http.StatusText(res.StatusCode), relogin: c.token != ""}
		if env.Error != nil {
			if env.Error.Code != "" {
				ae.Code = env.Error.Code
			}
			if env.Error.Message != "" {
				ae.Message = strings.TrimSpace(env.Error.Message)
			}
			var d struct {
				Fields map[string]string `json:"fields"`
			}
			if json.Unmarshal(env.Error.Details, &d) == nil {
				ae.Fields = d.Fields
			}
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("unexpected answer to %s %s: %v", method, path, err)
		}
	}
	return nil
}
