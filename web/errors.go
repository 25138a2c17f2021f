package web

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"guildhall/db/model"
	"guildhall/handlers"
	"guildhall/views"
)

type errorBody struct {
	Code    model.Code `json:"code"`
	Message string     `json:"message"`
	Details any        `json:"details"`
}

// classify turns any error into a status and a client-safe model error.
// Anything unknown is a 500 whose cause is logged, never shown.
func classify(err error) (int, *model.Error, bool) {
	if e, ok := model.AsError(err); ok {
		return handlers.StatusOf(e.Code), e, false
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, &model.Error{Code: model.CodeNotFound, Message: "Not found."}, false
		case http.StatusMethodNotAllowed:
			return he.Code, &model.Error{Code: "method_not_allowed", Message: "Method not allowed."}, false
		case http.StatusRequestEntityTooLarge:
			return he.Code, &model.Error{Code: model.CodeValidation, Message: "The request is too large."}, false
		}
		if he.Code < 500 {
			msg, _ := he.Message.(string)
			return he.Code, &model.Error{Code: model.CodeValidation, Message: msg}, false
		}
	}
	return http.StatusInternalServerError, &model.Error{Code: "internal_error", Message: "Something went wrong on our side. Try again in a moment."}, true
}

// errorHandler is the one place errors become answers: the JSON envelope for
// /api, a flash fragment for htmx, or a full page.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, e, internal := classify(err)
	if internal {
		c.Logger().Errorf("%s %s: %v", c.Request().Method, c.Path(), err)
	}
	var werr error
	switch {
	case strings.HasPrefix(c.Request().URL.Path, "/api/") || c.Request().URL.Path == "/api":
		details := e.Details
		if details == nil && len(e.Fields) > 0 {
			details = map[string]any{"fields": e.Fields}
		}
		msg := e.Message
		if len(e.Fields) > 0 && msg == model.Invalid(nil).Message {
			// "the highlighted fields" means nothing to a script: say which.
			msg = fieldsSentence(e.Fields)
		}
		if details == nil {
			details = map[string]any{}
		}
		werr = c.JSON(status, map[string]any{"success": false, "error": errorBody{Code: e.Code, Message: msg, Details: details}})
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(status)
	case handlers.IsHTMX(c):
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		werr = handlers.Render(c, status, views.Flashes([]views.FlashView{{Kind: "error", Text: e.Message}}))
	default:
		title := http.StatusText(status)
		if status == http.StatusNotFound {
			title = "Page not found"
		}
		werr = handlers.Render(c, status, views.ErrorPage(s.base.Shell(c, title, ""), status, title, e.Message))
	}
	if werr != nil {
		c.Logger().Errorf("write error answer: %v", werr)
	}
}

// fieldsSentence joins per-field messages in field order.
func fieldsSentence(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+fields[k])
	}
	return strings.Join(parts, " ")
}
