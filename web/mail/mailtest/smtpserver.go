// Package mailtest is a small in-process SMTP server for tests: it accepts
// every message (and any AUTH PLAIN or LOGIN credentials, without TLS),
// parses it, and lets the test read it back.
package mailtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxMessageSize bounds one message (DATA); larger ones are refused.
const maxMessageSize = 10 << 20

// Message is one received message.
type Message struct {
	From    string   // envelope sender (MAIL FROM), without angle brackets
	To      []string // envelope recipients (RCPT TO), without angle brackets
	Subject string   // decoded Subject header
	Text    string   // the text/plain body, decoded, with \n line ends
	HTML    string   // the text/html body, decoded, with \n line ends
	Raw     []byte   // the message as received (after dot-unstuffing)

	Header mail.Header // the message's headers
	User   string      // the AUTH user name, if the client authenticated
}

// Server is a running test SMTP server.
type Server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	msgs []Message
	// arrived is closed (and replaced) whenever a message arrives.
	arrived chan struct{}
	conns   map[net.Conn]struct{}
	closed  bool
}

// Start starts a server on 127.0.0.1 on a free port; it stops when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	s := &Server{ln: ln, arrived: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// URL is the server's address as an SMTP_URL: smtp://127.0.0.1:PORT.
func (s *Server) URL() string { return "smtp://" + s.ln.Addr().String() }

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// WaitFor waits until a message to recipient to (compared without regard
// to case) has arrived, and returns the first such message. It fails the test
// if none arrives within timeout.
func (s *Server) WaitFor(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if slices.ContainsFunc(m.To, func(r string) bool { return strings.EqualFold(r, to) }) {
				s.mu.Unlock()
				return m
			}
		}
		arrived := s.arrived
		var got []string
		for _, m := range s.msgs {
			got = append(got, fmt.Sprintf("%v %q", m.To, m.Subject))
		}
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: no message to %s within %v; received %d: %s", to, timeout, len(got), strings.Join(got, "; "))
			return Message{}
		}
	}
}

// Close stops the server and waits for its connections to end. Start
// arranges for it to be called when the test ends.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Server) deliver(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is the state of one SMTP connection.
type session struct {
	r    *bufio.Reader
	w    *bufio.Writer
	from string
	to   []string
	mail bool // MAIL FROM seen
	helo bool
	user string
}

func (ss *session) reply(code int, lines ...string) error {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(ss.w, "%d%s%s\r\n", code, sep, l)
	}
	return ss.w.Flush()
}

// readLine reads one line without its line end.
func (ss *session) readLine() (string, error) {
	line, err := ss.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) > 4096 {
		return "", errors.New("line too long")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (s *Server) handle(c net.Conn) {
	ss := &session{r: bufio.NewReader(c), w: bufio.NewWriter(c)}
	if ss.reply(220, "127.0.0.1 mailtest ESMTP ready") != nil {
		return
	}
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		line, err := ss.readLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		arg = strings.TrimSpace(arg)
		switch verb {
		case "EHLO":
			ss.helo = true
			ss.reset()
			err = ss.reply(250, "127.0.0.1 greets "+arg, "8BITMIME", "SMTPUTF8", fmt.Sprintf("SIZE %d", maxMessageSize), "AUTH PLAIN LOGIN", "HELP")
		case "HELO":
			ss.helo = true
			ss.reset()
			err = ss.reply(250, "127.0.0.1 greets "+arg)
		case "AUTH":
			err = ss.auth(arg)
		case "MAIL":
			addr, ok := pathArg(arg, "FROM:")
			switch {
			case !ss.helo:
				err = ss.reply(503, "5.5.1 EHLO/HELO first")
			case ss.mail:
				err = ss.reply(503, "5.5.1 nested MAIL command")
			case !ok:
				err = ss.reply(501, "5.5.4 syntax: MAIL FROM:<address>")
			default:
				ss.mail, ss.from = true, addr
				err = ss.reply(250, "2.1.0 OK")
			}
		case "RCPT":
			addr, ok := pathArg(arg, "TO:")
			switch {
			case !ss.mail:
				err = ss.reply(503, "5.5.1 MAIL first")
			case !ok || addr == "":
				err = ss.reply(501, "5.5.4 syntax: RCPT TO:<address>")
			default:
				ss.to = append(ss.to, addr)
				err = ss.reply(250, "2.1.5 OK")
			}
		case "DATA":
			if len(ss.to) == 0 {
				err = ss.reply(503, "5.5.1 RCPT first")
				break
			}
			if err = ss.reply(354, "End data with <CR><LF>.<CR><LF>"); err != nil {
				return
			}
			raw, tooBig, rerr := ss.readData()
			if rerr != nil {
				return
			}
			if tooBig {
				err = ss.reply(552, "5.3.4 message too big")
			} else {
				m := parse(raw)
				m.From, m.To, m.User = ss.from, slices.Clone(ss.to), ss.user
				s.deliver(m)
				err = ss.reply(250, "2.0.0 OK: queued")
			}
			ss.reset()
		case "RSET":
			ss.reset()
			err = ss.reply(250, "2.0.0 OK")
		case "NOOP":
			err = ss.reply(250, "2.0.0 OK")
		case "VRFY":
			err = ss.reply(252, "2.5.2 cannot verify, but will accept")
		case "HELP":
			err = ss.reply(214, "EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT")
		case "QUIT":
			_ = ss.reply(221, "2.0.0 bye")
			return
		case "STARTTLS":
			err = ss.reply(502, "5.5.1 TLS not available")
		default:
			err = ss.reply(502, "5.5.2 command not recognized")
		}
		if err != nil {
			return
		}
	}
}

func (ss *session) reset() {
	ss.from, ss.to, ss.mail = "", nil, false
}

// auth accepts AUTH PLAIN and AUTH LOGIN with any credentials.
func (ss *session) auth(arg string) error {
	mech, initial, _ := strings.Cut(arg, " ")
	decode := func(s string) (string, bool) {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		return string(b), err == nil
	}
	ask := func(prompt string) (string, error) {
		if err := ss.reply(334, prompt); err != nil {
			return "", err
		}
		return ss.readLine()
	}
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp := initial
		if resp == "" {
			var err error
			if resp, err = ask(""); err != nil {
				return err
			}
		}
		if resp == "*" {
			return ss.reply(501, "5.7.0 authentication cancelled")
		}
		s, ok := decode(resp)
		parts := strings.Split(s, "\x00")
		if !ok || len(parts) != 3 {
			return ss.reply(501, "5.5.2 malformed AUTH PLAIN response")
		}
		ss.user = parts[1]
	case "LOGIN":
		resp := initial
		if resp == "" {
			var err error
			if resp, err = ask(base64.StdEncoding.EncodeToString([]byte("Username:"))); err != nil {
				return err
			}
		}
		user, ok := decode(resp)
		if !ok {
			return ss.reply(501, "5.5.2 malformed AUTH LOGIN response")
		}
		if _, err := ask(base64.StdEncoding.EncodeToString([]byte("Password:"))); err != nil {
			return err
		}
		ss.user = user
	default:
		return ss.reply(504, "5.5.4 unrecognized authentication type")
	}
	return ss.reply(235, "2.7.0 authentication successful")
}

// readData reads the message after DATA up to the lone dot, undoing dot
// stuffing and keeping the line ends as sent.
func (ss *session) readData() (raw []byte, tooBig bool, err error) {
	var buf bytes.Buffer
	lineStart := true
	for {
		line, err := ss.r.ReadSlice('\n')
		full := true
		if errors.Is(err, bufio.ErrBufferFull) {
			full, err = false, nil // a very long line: the rest follows
		}
		if err != nil {
			return nil, false, err
		}
		if lineStart {
			if full && (bytes.Equal(line, []byte(".\r\n")) || bytes.Equal(line, []byte(".\n"))) {
				return buf.Bytes(), tooBig, nil
			}
			if line[0] == '.' {
				line = line[1:]
			}
		}
		lineStart = full
		if buf.Len()+len(line) > maxMessageSize {
			tooBig = true
		}
		if !tooBig {
			buf.Write(line)
		}
	}
}

// pathArg parses "FROM:<addr> PARAMS" (prefix "FROM:") into addr.
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return "", false
		}
		return rest[1:end], true
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr, addr != ""
}

// parse extracts the subject and the text and HTML bodies. A message that
// cannot be parsed still keeps its Raw bytes.
func parse(raw []byte) Message {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	walk(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m
}

// walk reads one MIME entity, descending into multipart ones, and keeps
// the first text/plain and text/html parts that are not attachments.
func walk(m *Message, contentType, encoding string, body io.Reader) {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: we decode transfer encodings ourselves, the same
			// way for every part.
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			if disp, _, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition")); disp == "attachment" {
				continue
			}
			walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // skips \r and \n
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = text
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = text
		}
	}
}
