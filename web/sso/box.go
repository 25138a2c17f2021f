// Package sso holds the single sign-on protocol adapters (OIDC with go-oidc
// and x/oauth2, SAML with crewjam/saml), the sealing of client secrets and
// the DNS lookup of domain proofs. An adapter checks everything the protocol
// asks (signatures, audience, time, state, nonce, PKCE) and hands back a
// plain model.SSOIdentity; the store decides linking and provisioning.
package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Box seals client secrets at rest with AES-256-GCM.
type Box struct{ aead cipher.AEAD }

// NewBox derives the sealing key from the server secret (GUILDHALL_SECRET),
// with a label so the key differs from the session keys made from the same secret.
func NewBox(serverSecret string) *Box {
	key := sha256.Sum256([]byte("guildhall-sso-client-secret:" + serverSecret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Box{aead: aead}
}

// Seal encrypts plain; the result is nonce || ciphertext.
func (b *Box) Seal(plain string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return b.aead.Seal(nonce, nonce, []byte(plain), []byte("sso-client-secret")), nil
}

// Open decrypts what Seal made.
func (b *Box) Open(sealed []byte) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte("sso-client-secret"))
	if err != nil {
		return "", errors.New("the client secret cannot be opened with this server's secret (was GUILDHALL_SECRET changed?)")
	}
	return string(plain), nil
}
