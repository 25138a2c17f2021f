package request

import "github.com/labstack/echo/v4"

// SessionValues keeps small short-lived values in the signed and encrypted
// cookie session: a sign-in waiting for its second factor, a WebAuthn
// challenge. The session writer implements it.
type SessionValues interface {
	// SetValue stores value under key; "" deletes it.
	SetValue(c echo.Context, key, value string) error
	// Value reads key ("" when unset).
	Value(key string) string
}

// Values returns the cookie session's value store, or nil outside the
// browser middleware.
func Values(c echo.Context) SessionValues {
	v, _ := Session(c).(SessionValues)
	return v
}
