package sso

import (
	"context"
	"errors"

	"guildhall/db/model"
)

// SAML builds per-org SAML service providers.
type SAML struct{}

// SPEndpoints are the service provider's own URLs for one org.
type SPEndpoints struct {
	ACSURL      string
	EntityID    string
	MetadataURL string
}

// SP is one org's service provider.
type SP struct{}

// Provider makes the org's SP from its connection.
func (s *SAML) Provider(ctx context.Context, conn model.SSOConnection, e SPEndpoints) (*SP, error) {
	return nil, errors.New("SAML sign-in is not available yet")
}

// RedirectURL makes an AuthnRequest with relayState and returns where to send
// the browser and the request id (the InResponseTo the response must carry).
func (sp *SP) RedirectURL(relayState string) (string, string, error) {
	return "", "", errors.New("SAML sign-in is not available yet")
}
