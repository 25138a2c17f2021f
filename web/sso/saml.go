package sso

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"guildhall/db/model"
)

// SAML builds per-org SAML service providers with crewjam/saml. The SP is
// built for each request from the stored connection, so any instance can
// answer; replays are refused through Replay, which the store backs with
// PostgreSQL.
type SAML struct {
	HTTP *http.Client
	Now  func() time.Time
}

// NewSAML makes the adapter with a 10-second client for metadata URLs.
func NewSAML(now func() time.Time) *SAML {
	return &SAML{HTTP: &http.Client{Timeout: 10 * time.Second}, Now: now}
}

// SPEndpoints are the service provider's own URLs for one org.
type SPEndpoints struct {
	ACSURL      string
	EntityID    string
	MetadataURL string
}

// SP is one org's service provider.
type SP struct {
	sp *saml.ServiceProvider
}

// replayFunc adapts a function to crewjam's AssertionReplayCache.
type replayFunc func(id string, expires time.Time) error

func (f replayFunc) Consume(id string, expires time.Time) error { return f(id, expires) }

// Provider makes the org's SP from its connection. replay records an
// assertion id until it expires and fails for one already recorded (nil
// only for metadata and redirects, which parse no response).
func (s *SAML) Provider(ctx context.Context, conn model.SSOConnection, e SPEndpoints, replay func(id string, expires time.Time) error) (*SP, error) {
	acs, err := url.Parse(e.ACSURL)
	if err != nil {
		return nil, err
	}
	meta, err := url.Parse(e.MetadataURL)
	if err != nil {
		return nil, err
	}
	sp := &saml.ServiceProvider{EntityID: e.EntityID, AcsURL: *acs, MetadataURL: *meta,
		AllowIDPInitiated: conn.IdPInitiated, HTTPClient: s.HTTP, RejectSHA1Signatures: true}
	if s.Now != nil {
		sp.Clock = dsig.NewFakeClockAt(s.Now())
	}
	if replay != nil {
		sp.ReplayCache = replayFunc(func(id string, exp time.Time) error {
			if err := replay(id, exp); model.CodeOf(err) == model.CodeForbidden {
				return saml.ErrAssertionReplayed
			} else if err != nil {
				return err
			}
			return nil
		})
	}
	if conn.Protocol == model.ProtocolSAML {
		if sp.IDPMetadata, err = s.idpMetadata(ctx, conn); err != nil {
			return nil, err
		}
	}
	return &SP{sp: sp}, nil
}

func (s *SAML) idpMetadata(ctx context.Context, conn model.SSOConnection) (*saml.EntityDescriptor, error) {
	if conn.MetadataXML != "" {
		m, err := samlsp.ParseMetadata([]byte(conn.MetadataXML))
		if err != nil {
			return nil, fmt.Errorf("the IdP metadata XML cannot be read: %v", err)
		}
		return m, nil
	}
	u, err := url.Parse(conn.MetadataURL)
	if err != nil {
		return nil, err
	}
	m, err := samlsp.FetchMetadata(ctx, s.HTTP, *u)
	if err != nil {
		return nil, fmt.Errorf("the IdP metadata at %s could not be fetched: %v", conn.MetadataURL, err)
	}
	return m, nil
}

// Metadata is the SP metadata XML the IdP needs.
func (p *SP) Metadata() ([]byte, error) {
	return xml.MarshalIndent(p.sp.Metadata(), "", "  ")
}

// RedirectURL makes an AuthnRequest with relayState and returns where to send
// the browser and the request id (the InResponseTo the response must carry).
func (p *SP) RedirectURL(relayState string) (string, string, error) {
	loc := p.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if loc == "" {
		return "", "", errors.New("the IdP metadata has no HTTP-Redirect single sign-on endpoint")
	}
	req, err := p.sp.MakeAuthenticationRequest(loc, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", "", err
	}
	u, err := req.Redirect(relayState, p.sp)
	if err != nil {
		return "", "", err
	}
	return u.String(), req.ID, nil
}

// SAMLResult is a verified response: the identity and the request it
// answers ("" for an IdP-initiated one).
type SAMLResult struct {
	Identity     model.SSOIdentity
	InResponseTo string
}

// Parse verifies a response posted to the ACS: a signed response or
// assertion from the IdP's certificate, audience, recipient, time window,
// InResponseTo among requestIDs (or IdP-initiated when the org allows it),
// and an assertion id never seen before.
func (p *SP) Parse(r *http.Request, requestIDs []string) (SAMLResult, error) {
	var out SAMLResult
	if err := r.ParseForm(); err != nil {
		return out, refused("The SAML response could not be read.")
	}
	a, err := p.sp.ParseResponse(r, requestIDs)
	if err != nil {
		return out, refused("The SAML response was refused: %s.", samlReason(err))
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if sc.SubjectConfirmationData != nil && sc.SubjectConfirmationData.InResponseTo != "" {
				out.InResponseTo = sc.SubjectConfirmationData.InResponseTo
			}
		}
	}
	id := model.SSOIdentity{Protocol: model.ProtocolSAML, Issuer: a.Issuer.Value,
		// A signed assertion from the org's own IdP vouches for the address;
		// the store still requires it to be at a domain the org verified.
		EmailVerified: true}
	if a.Subject != nil && a.Subject.NameID != nil {
		id.Subject = a.Subject.NameID.Value
	}
	var given, sur string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			vals := make([]string, 0, len(at.Values))
			for _, v := range at.Values {
				vals = append(vals, strings.TrimSpace(v.Value))
			}
			if len(vals) == 0 {
				continue
			}
			switch attrKey(at) {
			case "email":
				if id.Email == "" {
					id.Email = vals[0]
				}
			case "name":
				id.Name = vals[0]
			case "given":
				given = vals[0]
			case "sur":
				sur = vals[0]
			case "groups":
				id.Groups = append(id.Groups, vals...)
			}
		}
	}
	if id.Email == "" && strings.Contains(id.Subject, "@") {
		id.Email = id.Subject
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(given + " " + sur)
	}
	id.Email = model.NormalizeEmail(id.Email)
	out.Identity = id
	return out, nil
}

// attrKey maps the usual attribute names of IdPs (Okta, Entra ID, Google,
// eduPerson) to what Guildhall reads.
func attrKey(at saml.Attribute) string {
	for _, n := range []string{at.FriendlyName, at.Name} {
		switch strings.ToLower(n) {
		case "mail", "email", "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress":
			return "email"
		case "cn", "displayname", "name", "urn:oid:2.5.4.3",
			"http://schemas.microsoft.com/identity/claims/displayname":
			return "name"
		case "givenname", "urn:oid:2.5.4.42", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":
			return "given"
		case "sn", "surname", "urn:oid:2.5.4.4", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":
			return "sur"
		case "groups", "memberof", "edupersonaffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
			"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups":
			return "groups"
		}
	}
	return ""
}

// samlReason names why crewjam refused a response, in words for the page
// and the audit log (never the response itself).
func samlReason(err error) string {
	switch {
	case errors.Is(err, saml.ErrAssertionReplayed):
		return "it was already used (a replayed response)"
	case errors.Is(err, saml.ErrInvalidSignature), errors.Is(err, saml.ErrUntrustedCertificate):
		return "its signature is missing or not valid for the IdP's certificate"
	case errors.Is(err, saml.ErrAudienceMismatch):
		return "it is meant for another service provider (wrong audience)"
	case errors.Is(err, saml.ErrDestinationMismatch):
		return "it is addressed to another recipient"
	case errors.Is(err, saml.ErrExpired):
		return "it has expired"
	case errors.Is(err, saml.ErrNotYetValid):
		return "it is not valid yet"
	case errors.Is(err, saml.ErrRequestIDMismatch):
		return "it does not answer a sign-in started here (InResponseTo), or IdP-initiated sign-in is off"
	case errors.Is(err, saml.ErrIssuerMismatch):
		return "it comes from another issuer"
	case errors.Is(err, saml.ErrMissingElement), errors.Is(err, saml.ErrMalformedMessage):
		return "it is malformed or incomplete"
	}
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil && errors.Is(ire.PrivateErr, saml.ErrAssertionReplayed) {
		return "it was already used (a replayed response)"
	}
	return "it could not be verified"
}
