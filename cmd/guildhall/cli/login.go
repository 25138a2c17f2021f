package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const loginSynopsis = "guildhall login [--url URL] [--email EMAIL] [--password-stdin] [--otp CODE]"

// login exchanges an email and password for a token (POST /api/auth/token)
// and stores it with the server URL. The active org starts as the personal
// workspace.
func (r *runner) login(args []string) error {
	fs := flags("login")
	flagURL := fs.String("url", "", "server URL (default: GUILDHALL_URL, else the last server logged in to, else "+DefaultURL+")")
	email := fs.String("email", "", "account email (asked for when not given)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input (needs --email)")
	otp := fs.String("otp", "", "two-factor code or recovery code (asked for when the account needs one)")
	pos, err := r.parse(fs, loginSynopsis, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("login takes no arguments, got %q", strings.Join(pos, " "))
	}
	path, err := ConfigPath(r.env.Getenv)
	if err != nil {
		return err
	}
	prev, _ := loadConfig(path)
	raw := *flagURL
	if raw == "" {
		raw = r.env.Getenv("GUILDHALL_URL")
	}
	if raw == "" {
		raw = prev.URL
	}
	if raw == "" {
		raw = DefaultURL
	}
	base, err := normalizeURL(raw)
	if err != nil {
		return err
	}
	in := bufio.NewReader(r.env.Stdin)
	addr := strings.TrimSpace(*email)
	if addr == "" {
		if *passwordStdin {
			return usagef("--password-stdin needs --email")
		}
		fmt.Fprint(r.env.Stderr, "Email: ")
		line, err := readLine(in)
		if err != nil {
			return fmt.Errorf("reading the email: %w", err)
		}
		addr = strings.TrimSpace(line)
	}
	if addr == "" {
		return errors.New("an email is required")
	}
	var password string
	switch {
	case *passwordStdin:
		password, err = readLine(in)
	case r.env.ReadPassword != nil:
		fmt.Fprint(r.env.Stderr, "Password: ")
		password, err = r.env.ReadPassword()
		fmt.Fprintln(r.env.Stderr)
	default:
		fmt.Fprint(r.env.Stderr, "Password: ")
		password, err = readLine(in)
	}
	if err != nil {
		return fmt.Errorf("reading the password: %w", err)
	}
	if password == "" {
		return errors.New("a password is required")
	}

	anon := &client{http: r.env.HTTP, base: base}
	var tok struct {
		Token string `json:"token"`
	}
	body := map[string]any{"email": addr, "password": password, "name": TokenName}
	if *otp != "" {
		body["otp"] = *otp
	}
	err = anon.do(r.ctx, http.MethodPost, "/api/auth/token", body, &tok)
	if code, asked := needsOTP(err, *otp, r, in); asked {
		body["otp"] = code
		err = anon.do(r.ctx, http.MethodPost, "/api/auth/token", body, &tok)
	}
	if err != nil {
		return err
	}
	if tok.Token == "" {
		return fmt.Errorf("the server at %s answered without a token", base)
	}
	cfg := Config{URL: base, Token: tok.Token, Email: addr}
	var me meView
	if err := r.client(cfg).do(r.ctx, http.MethodGet, "/api/me", nil, &me); err != nil {
		return err
	}
	if me.User.Email != "" {
		cfg.Email = me.User.Email
	}
	if err := saveConfig(path, cfg); err != nil {
		return fmt.Errorf("saving the token: %w", err)
	}
	r.out("Logged in to %s as %s.\n", cfg.URL, cfg.Email)
	r.out("Active workspace: Personal workspace. The token is saved in %s.\n", path)
	return nil
}

// meView is the part of GET /api/me the CLI reads.
type meView struct {
	User struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`
}

// normalizeURL accepts "host:port" as http://host:port and drops a trailing slash.
func normalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("%q is not a server URL (like %s)", raw, DefaultURL)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// readLine reads one line without its line ending; the last line may lack one.
func readLine(in *bufio.Reader) (string, error) {
	line, err := in.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	if err == io.EOF {
		return "", errors.New("nothing on standard input")
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// needsOTP asks for the two-factor code when the server wants one and none
// was given: a line of standard input, after a prompt on standard error.
func needsOTP(err error, given string, r *runner, in *bufio.Reader) (string, bool) {
	var ae *APIError
	if given != "" || !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !strings.Contains(ae.Message, "two-factor") {
		return "", false
	}
	fmt.Fprint(r.env.Stderr, "Two-factor code: ")
	line, rerr := readLine(in)
	if rerr != nil || strings.TrimSpace(line) == "" {
		return "", false
	}
	return strings.TrimSpace(line), true
}
