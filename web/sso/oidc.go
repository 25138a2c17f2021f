package sso

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"guildhall/db/model"
)

// OIDCConfig is one org's OIDC client, with the secret opened.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
}

// OIDC runs the authorization code flow with PKCE, state and nonce.
type OIDC struct {
	// HTTP is the client for discovery, token and key requests (a timeout matters:
	// a hung IdP must not hang sign-in).
	HTTP *http.Client
	// Now is the clock for token expiry checks.
	Now func() time.Time
}

// NewOIDC makes an adapter with a 10-second HTTP client.
func NewOIDC(now func() time.Time) *OIDC {
	return &OIDC{HTTP: &http.Client{Timeout: 10 * time.Second}, Now: now}
}

// RandomToken makes a state, nonce or PKCE verifier.
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (o *OIDC) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.HTTP)
}

func refused(format string, a ...any) error { return model.Forbidden(format, a...) }

func (o *OIDC) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	p, err := oidc.NewProvider(o.ctx(ctx), issuer)
	if err != nil {
		return nil, refused("The identity provider at %s could not be reached or is not an OpenID provider: %v", issuer, err)
	}
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider, c OIDCConfig) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: c.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// AuthURL is where to send the browser: the provider's authorization
// endpoint with state, nonce and the S256 PKCE challenge of verifier.
func (o *OIDC) AuthURL(ctx context.Context, c OIDCConfig, state, nonce, verifier, loginHint string) (string, error) {
	p, err := o.provider(ctx, c.Issuer)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if loginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	return o.oauth(p, c).AuthCodeURL(state, opts...), nil
}

// Exchange trades the code (with the PKCE verifier) for tokens, verifies the
// ID token (signature, issuer, audience, expiry) and its nonce, and returns
// the identity it vouches for.
func (o *OIDC) Exchange(ctx context.Context, c OIDCConfig, code, verifier, nonce string) (model.SSOIdentity, error) {
	var id model.SSOIdentity
	if code == "" {
		return id, refused("The identity provider sent no authorization code.")
	}
	p, err := o.provider(ctx, c.Issuer)
	if err != nil {
		return id, err
	}
	tok, err := o.oauth(p, c).Exchange(o.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return id, refused("The identity provider refused the code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return id, refused("The identity provider sent no ID token.")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.ClientID, Now: now}).Verify(o.ctx(ctx), raw)
	if err != nil {
		return id, refused("The ID token failed verification: %v", err)
	}
	if idt.Nonce == "" || idt.Nonce != nonce {
		return id, refused("The ID token's nonce does not match the sign-in that was started: it may be replayed.")
	}
	var claims struct {
		Email             string `json:"email"`
		EmailVerified     any    `json:"email_verified"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		Groups            []any  `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		return id, refused("The ID token's claims are not readable: %v", err)
	}
	id = model.SSOIdentity{Protocol: model.ProtocolOIDC, Issuer: idt.Issuer, Subject: idt.Subject,
		Email: model.NormalizeEmail(claims.Email), Name: firstNonEmpty(claims.Name, claims.PreferredUsername)}
	// Some providers send email_verified as the string "true".
	switch v := claims.EmailVerified.(type) {
	case bool:
		id.EmailVerified = v
	case string:
		id.EmailVerified = strings.EqualFold(v, "true")
	}
	for _, g := range claims.Groups {
		id.Groups = append(id.Groups, fmt.Sprint(g))
	}
	return id, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}
