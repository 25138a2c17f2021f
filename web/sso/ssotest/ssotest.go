// Package ssotest runs real identity infrastructure in process for tests: an
// OpenID provider (oauth2-proxy/mockoidc) and a DNS server (miekg/dns), both
// on loopback.
package ssotest

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/miekg/dns"
	"github.com/oauth2-proxy/mockoidc"
)

// User is who the provider signs in next. Nonce, when set, replaces the
// nonce the ID token carries (to test a mismatched nonce).
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	Nonce         string
}

// ID is the subject.
func (u *User) ID() string { return u.Subject }

// Userinfo is the userinfo endpoint's answer.
func (u *User) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.Subject, "email": u.Email, "name": u.Name, "groups": u.Groups})
}

type claims struct {
	*mockoidc.IDTokenClaims
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
}

// Claims are the ID token's claims (groups whatever the scope, as many IdPs do).
func (u *User) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.Nonce != "" {
		base.Nonce = u.Nonce
	}
	return &claims{IDTokenClaims: base, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Groups: u.Groups}, nil
}

// OP is a running OpenID provider.
type OP struct {
	*mockoidc.MockOIDC
}

// StartOP starts an OpenID provider on loopback, stopped at the test's end.
func StartOP(t testing.TB) *OP {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("start OpenID provider: %v", err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return &OP{MockOIDC: m}
}

// Next queues the user the next authorization signs in.
func (o *OP) Next(u User) { o.QueueUser(&u) }

// DNS is a running DNS server answering TXT records from a table.
type DNS struct {
	Addr string
	mu   sync.Mutex
	txt  map[string][]string
}

// StartDNS starts a UDP DNS server on loopback.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen dns: %v", err)
	}
	d := &DNS{Addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return d
}

// SetTXT sets the TXT records of name.
func (d *DNS) SetTXT(name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[strings.ToLower(dns.Fqdn(name))] = values
}

func (d *DNS) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, q := range r.Question {
		vals, ok := d.txt[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		if q.Qtype != dns.TypeTXT {
			continue
		}
		for _, v := range vals {
			// One TXT string holds at most 255 bytes; longer values are split.
			var parts []string
			for len(v) > 255 {
				parts, v = append(parts, v[:255]), v[255:]
			}
			parts = append(parts, v)
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: parts})
		}
	}
	_ = w.WriteMsg(m)
}
