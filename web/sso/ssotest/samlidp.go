package ssotest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/logger"
	"github.com/crewjam/saml/samlidp"
)

// IdP is a running SAML identity provider (crewjam/saml/samlidp).
type IdP struct {
	URL string
	t   testing.TB
}

// StartIdP starts a SAML IdP on loopback with a fresh signing key.
func StartIdP(t testing.TB) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	u, _ := url.Parse(base)
	srv, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{},
		Logger: logger.DefaultLogger})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return &IdP{URL: base, t: t}
}

// MetadataURL is where the IdP publishes its metadata.
func (p *IdP) MetadataURL() string { return p.URL + "/metadata" }

// Metadata fetches the IdP metadata XML.
func (p *IdP) Metadata() string {
	res, err := http.Get(p.MetadataURL())
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func (p *IdP) put(path string, body []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.URL+path, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		p.t.Fatalf("PUT %s: %d", path, res.StatusCode)
	}
}

// AddUser registers a user who signs in with password.
func (p *IdP) AddUser(name, password, email, commonName string, groups ...string) {
	b, _ := json.Marshal(map[string]any{"name": name, "password": password, "email": email, "common_name": commonName, "groups": groups})
	p.put("/users/"+name, b)
}

// AddServiceProvider registers an SP by its metadata (fetched from spMetadataURL).
func (p *IdP) AddServiceProvider(id, spMetadataURL string) {
	p.t.Helper()
	res, err := http.Get(spMetadataURL)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("SP metadata %s: %d", spMetadataURL, res.StatusCode)
	}
	p.put("/services/"+id, b)
}

// AddServiceProviderXML registers an SP by its metadata XML.
func (p *IdP) AddServiceProviderXML(id, metadata string) {
	p.t.Helper()
	p.put("/services/"+id, []byte(metadata))
}

// AddShortcut registers an IdP-initiated sign-in link for an SP entity id.
func (p *IdP) AddShortcut(name, spEntityID string) {
	b, _ := json.Marshal(map[string]any{"name": name, "service_provider": spEntityID})
	p.put("/shortcuts/"+name, b)
}

var inputRe = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)
var actionRe = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// Posted is the auto-submitting form an IdP answers with: where it posts
// (the SP's ACS) and the fields (SAMLResponse, RelayState).
type Posted struct {
	Action string
	Form   url.Values
}

func formOf(body string) Posted {
	out := Posted{Form: url.Values{}}
	if m := actionRe.FindStringSubmatch(body); m != nil {
		out.Action = html.UnescapeString(m[1])
	}
	for _, m := range inputRe.FindAllStringSubmatch(body, -1) {
		out.Form.Set(m[1], html.UnescapeString(m[2]))
	}
	return out
}

// SignIn completes an SP-initiated sign-in: it opens authURL (the SP's
// redirect to the IdP), reads the SAMLRequest and RelayState from the IdP's
// login page, posts them with the credentials to the IdP's SSO endpoint
// (our own login form: samlidp's built-in one is not used) and returns the
// response the IdP would post to the SP.
func (p *IdP) SignIn(authURL, user, password string) Posted {
	p.t.Helper()
	res, err := http.Get(authURL)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	login := formOf(string(b))
	if login.Form.Get("SAMLRequest") == "" {
		p.t.Fatalf("the IdP showed no login form for %s: %d\n%s", authURL, res.StatusCode, b)
	}
	login.Form.Set("user", user)
	login.Form.Set("password", password)
	res, err = http.PostForm(p.URL+"/sso", login.Form)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	out := formOf(string(b))
	if out.Form.Get("SAMLResponse") == "" {
		p.t.Fatalf("the IdP sent no SAMLResponse: %d\n%s", res.StatusCode, b)
	}
	return out
}

// StartAtIdP signs user in at the IdP and follows a shortcut: an
// IdP-initiated response for the shortcut's SP.
func (p *IdP) StartAtIdP(shortcut, user, password string) Posted {
	p.t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err := hc.PostForm(p.URL+"/login", url.Values{"user": {user}, "password": {password}})
	if err != nil {
		p.t.Fatal(err)
	}
	res.Body.Close()
	res, err = hc.Get(p.URL + "/login/" + shortcut)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	out := formOf(string(b))
	if out.Form.Get("SAMLResponse") == "" {
		p.t.Fatalf("the IdP sent no IdP-initiated response: %d\n%s", res.StatusCode, strings.TrimSpace(string(b)))
	}
	return out
}
