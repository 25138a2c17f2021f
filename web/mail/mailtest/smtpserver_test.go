package mailtest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"
)

func multipartMessage(t *testing.T, from, to, subject, text, html string) []byte {
	t.Helper()
	var qp strings.Builder
	w := quotedprintable.NewWriter(&qp)
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b64 := base64.StdEncoding.EncodeToString([]byte(html))
	var wrapped strings.Builder
	for len(b64) > 76 {
		wrapped.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	wrapped.WriteString(b64)

	const boundary = "b0undary"
	msg := "From: Guildhall <" + from + ">\r\n" +
		"To: " + to + "\r\n" +
		"Subject: " + subject + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=" + boundary + "\r\n" +
		"\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		qp.String() + "\r\n" + // the writer ends lines with CRLF

		"--" + boundary + "\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		wrapped.String() + "\r\n" +
		"--" + boundary + "--\r\n"
	return []byte(msg)
}

func TestSendMultipartWithNetSMTP(t *testing.T) {
	s := Start(t)
	u, err := url.Parse(s.URL())
	if err != nil || u.Scheme != "smtp" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		t.Fatalf("URL() = %q", s.URL())
	}

	text := "Hello Ada,\n\nJoin the workspace: https://guildhall.test/invite?token=abc=def\n" +
		". a line starting with a dot\n" + strings.Repeat("long line ", 20) + "\nÜnïcødé ✓"
	html := `<p>Hello Ada,</p><p><a href="https://guildhall.test/invite?token=abc=def">Join</a></p>` + strings.Repeat("<br>", 40)
	subject := "=?utf-8?q?Invitation_to_=C3=9Cber_Org?="
	raw := multipartMessage(t, "noreply@guildhall.test", "ada@example.com", subject, text, html)

	auth := smtp.PlainAuth("", "user", "secret", "127.0.0.1")
	if err := smtp.SendMail(s.Addr(), auth, "noreply@guildhall.test", []string{"ada@example.com", "bob@example.com"}, raw); err != nil {
		t.Fatal(err)
	}

	m := s.WaitFor(t, "ADA@example.com", 5*time.Second)
	if m.From != "noreply@guildhall.test" {
		t.Errorf("From = %q", m.From)
	}
	if strings.Join(m.To, ",") != "ada@example.com,bob@example.com" {
		t.Errorf("To = %q", m.To)
	}
	if m.Subject != "Invitation to Über Org" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.Text != text {
		t.Errorf("Text = %q\nwant %q", m.Text, text)
	}
	if m.HTML != html {
		t.Errorf("HTML = %q\nwant %q", m.HTML, html)
	}
	if m.User != "user" {
		t.Errorf("User = %q, want user", m.User)
	}
	if m.Header.Get("To") != "ada@example.com" {
		t.Errorf("Header To = %q", m.Header.Get("To"))
	}
	if string(m.Raw) != string(raw) {
		t.Errorf("Raw differs from what was sent:\n%q\n%q", m.Raw, raw)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestWaitForMessageSentLater(t *testing.T) {
	s := Start(t)
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		msg := []byte("Subject: plain\r\n\r\nJust text.\r\n")
		if err := smtp.SendMail(s.Addr(), nil, "a@x.test", []string{"late@x.test"}, msg); err != nil {
			t.Error(err)
		}
	}()
	m := s.WaitFor(t, "late@x.test", 5*time.Second)
	if m.Subject != "plain" || m.Text != "Just text.\n" || m.HTML != "" {
		t.Errorf("got %+v", m)
	}
}

// TestProtocol speaks SMTP by hand: HELO, AUTH LOGIN, RSET, NOOP, sequence
// errors, and dot-stuffing.
func TestProtocol(t *testing.T) {
	s := Start(t)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := textproto.NewConn(conn)
	expect := func(code int) {
		t.Helper()
		if _, _, err := c.ReadResponse(code); err != nil {
			t.Fatalf("want %d: %v", code, err)
		}
	}
	send := func(format string, args ...any) {
		t.Helper()
		if err := c.PrintfLine(format, args...); err != nil {
			t.Fatal(err)
		}
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	expect(220)
	send("MAIL FROM:<a@x.test>")
	expect(503)
	send("HELO client")
	expect(250)
	send("AUTH LOGIN")
	expect(334)
	send("%s", b64("carol"))
	expect(334)
	send("%s", b64("pw"))
	expect(235)
	send("RCPT TO:<b@x.test>")
	expect(503)
	send("MAIL FROM:<a@x.test> SIZE=100")
	expect(250)
	send("RCPT TO:<dropped@x.test>")
	expect(250)
	send("RSET")
	expect(250)
	send("NOOP")
	expect(250)
	send("DATA")
	expect(503)
	send("MAIL FROM:<>")
	expect(250)
	send("RCPT TO:<b@x.test>")
	expect(250)
	send("DATA")
	expect(354)
	w := bufio.NewWriter(conn)
	fmt.Fprint(w, "Subject: dots\r\n\r\n..leading dot\r\n.\r\n")
	w.Flush()
	expect(250)
	send("BOGUS")
	expect(502)
	send("QUIT")
	expect(221)

	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "" || len(m.To) != 1 || m.To[0] != "b@x.test" || m.User != "carol" {
		t.Errorf("envelope %q -> %q, user %q", m.From, m.To, m.User)
	}
	if m.Text != ".leading dot\n" {
		t.Errorf("Text = %q", m.Text)
	}
}
