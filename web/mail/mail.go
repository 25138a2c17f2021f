// Package mail sends Guildhall's email: over SMTP when SMTP_URL is set, else
// into the outbox table (shown at /dev/outbox in dev mode).
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"guildhall/db/model"
)

// Outbox keeps messages instead of sending them.
type Outbox interface {
	SaveOutbox(ctx context.Context, m model.Mail) error
}

// OutboxMailer stores every message in the outbox.
type OutboxMailer struct{ Store Outbox }

// Send keeps the message.
func (o OutboxMailer) Send(ctx context.Context, m model.Mail) error {
	return o.Store.SaveOutbox(ctx, m)
}

// SMTPMailer sends over plain SMTP (STARTTLS when the server offers it).
type SMTPMailer struct {
	Addr string
	Auth smtp.Auth
	From string
}

// NewSMTP parses smtp://user:pass@host:port.
func NewSMTP(rawURL, from string) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
		return nil, fmt.Errorf("SMTP_URL must look like smtp://user:pass@host:port")
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "25"
	}
	m := &SMTPMailer{Addr: net.JoinHostPort(host, port), From: from}
	if u.User != nil {
		pw, _ := u.User.Password()
		m.Auth = loginAuth{user: u.User.Username(), pass: pw, host: host}
	}
	return m, nil
}

// loginAuth is PLAIN auth that net/smtp would refuse over plain TCP to a
// non-localhost host; dev SMTP relays often have no TLS.
type loginAuth struct{ user, pass, host string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a loginAuth) Next([]byte, bool) ([]byte, error) { return nil, nil }

// Send delivers one message as multipart/alternative (text and HTML).
func (s *SMTPMailer) Send(ctx context.Context, m model.Mail) error {
	msg := Build(s.From, m, time.Now())
	done := make(chan error, 1)
	go func() { done <- smtp.SendMail(s.Addr, s.Auth, addrOnly(s.From), []string{m.To}, msg) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("send mail to %s: %w", m.To, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func addrOnly(from string) string {
	if i := strings.LastIndex(from, "<"); i >= 0 {
		return strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}

// Build renders a MIME message with a text and an HTML part.
func Build(from string, m model.Mail, now time.Time) []byte {
	var b bytes.Buffer
	boundary := randomBoundary()
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\n",
		from, m.To, mime.QEncoding.Encode("utf-8", m.Subject), now.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", boundary)
	part := func(ctype, body string) {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, ctype)
		w := quotedprintable.NewWriter(&b)
		_, _ = w.Write([]byte(body))
		_ = w.Close()
		b.WriteString("\r\n")
	}
	part("text/plain", m.Text)
	if m.HTML != "" {
		part("text/html", m.HTML)
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

func randomBoundary() string {
	var buf [12]byte
	_, _ = rand.Read(buf[:])
	return "gh-" + hex.EncodeToString(buf[:])
}
