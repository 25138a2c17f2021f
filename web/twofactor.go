package web

import (
	"github.com/labstack/echo/v4"

	"guildhall/db"
)

// valuePrefix keeps handler values apart from the session's own keys.
const valuePrefix = "v:"

// SetValue implements request.SessionValues on the cookie session. SignIn
// replaces the whole session, so values never outlive a sign-in.
func (w *sessionWriter) SetValue(c echo.Context, key, value string) error {
	if value == "" {
		delete(w.sess.Values, valuePrefix+key)
	} else {
		w.sess.Values[valuePrefix+key] = value
	}
	return w.save(c)
}

// Value implements request.SessionValues.
func (w *sessionWriter) Value(key string) string {
	v, _ := w.sess.Values[valuePrefix+key].(string)
	return v
}

// setSecretBox gives the two-factor handlers the key that seals TOTP secrets.
func (h *Handlers) setSecretBox(box *db.SecretBox) {
	h.TwoFactor.Box = box
	h.APIAuth.Box = box
}
