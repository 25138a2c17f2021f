// Package web is the server: configuration, the Echo setup, the route table,
// middleware and the one place errors become HTTP answers.
package web

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Config is the run-time configuration of API.md: env first, flags override.
type Config struct {
	Addr        string
	BaseURL     string
	DatabaseURL string
	DataDir     string
	Secret      string
	SMTPURL     string
	MailFrom    string
	Dev         bool
	Ops         OpsConfig
}

// LoadConfig reads the environment, then applies flags from args.
func LoadConfig(getenv func(string) string, args []string) (Config, error) {
	c := Config{
		Addr:        getenv("GUILDHALL_ADDR"),
		BaseURL:     getenv("GUILDHALL_BASE_URL"),
		DatabaseURL: getenv("DATABASE_URL"),
		DataDir:     getenv("GUILDHALL_DATA"),
		Secret:      getenv("GUILDHALL_SECRET"),
		SMTPURL:     getenv("SMTP_URL"),
		MailFrom:    getenv("GUILDHALL_MAIL_FROM"),
		Dev:         getenv("GUILDHALL_DEV") == "1",
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (GUILDHALL_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "absolute base URL for links in emails (GUILDHALL_BASE_URL)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL DSN; unset runs an embedded cluster (DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data folder (GUILDHALL_DATA)")
	fs.StringVar(&c.SMTPURL, "smtp-url", c.SMTPURL, "smtp://user:pass@host:port (SMTP_URL)")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "development mode: /dev/outbox (GUILDHALL_DEV=1)")
	c.Ops = loadOps(getenv, fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.DataDir == "" {
		c.DataDir = ".guildhall"
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data folder: %w", err)
	}
	c.DataDir = abs
	if c.MailFrom == "" {
		c.MailFrom = "Guildhall <no-reply@guildhall.local>"
	}
	return c, nil
}

// Secure reports whether cookies must be Secure (an https base URL).
func (c Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// LoadSecret returns GUILDHALL_SECRET, or a secret generated once and kept in
// the data folder (mode 0600), so sessions survive restarts.
func LoadSecret(c Config, generate func() string) (string, error) {
	if c.Secret != "" {
		return c.Secret, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return "", fmt.Errorf("create data folder: %w", err)
	}
	p := filepath.Join(c.DataDir, "secret")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	s := generate()
	if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write secret: %w", err)
	}
	return s, nil
}
