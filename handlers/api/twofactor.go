package api

import (
	"github.com/labstack/echo/v4"

	"guildhall/db/model"
)

// checkSecondFactor makes token issue by password ask for the second factor
// too, so a password alone never yields a token for an account with
// two-factor sign-in. Failures are audited by the store.
func (h *Auth) checkSecondFactor(c echo.Context, acc model.Account, code string) error {
	if !acc.TwoFactor {
		return nil
	}
	if code == "" {
		return &model.Error{Code: model.CodeUnauthorized, Message: "This account uses two-factor authentication: send otp, a current code from the authenticator app or a recovery code."}
	}
	err := h.Store.VerifySecondFactor(c.Request().Context(), model.Actor{IP: c.RealIP()}, h.Box, acc.ID, code)
	if e, ok := model.AsError(err); ok && e.Code == model.CodeValidation {
		return &model.Error{Code: model.CodeUnauthorized, Message: "The otp code is not right, or was already used."}
	}
	return err
}

// withTwoFactor adds a member's two-factor status for an owner's view.
func withTwoFactor(v *MemberView, ws model.Workspace, m model.MemberRow) {
	if ws.Role == model.RoleOwner {
		on := m.TwoFactor
		v.TwoFactor = &on
	}
}
