// Package web is the server: configuration, the Echo setup, the route table,
// middleware and the one place errors become HTTP answers.
package web

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"guildhall/db"
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
	// TrustedProxies are the peers whose X-Forwarded-For / X-Real-IP count
	// (GUILDHALL_TRUSTED_PROXIES, comma-separated CIDRs or IPs). Empty: the
	// client IP is the socket peer, whatever headers say.
	TrustedProxies []*net.IPNet
	// DNSResolver is the DNS server (host:port) that checks domain TXT
	// records; "" uses the system resolver.
	DNSResolver string
	// DBMaxConns caps this server's PostgreSQL connections
	// (GUILDHALL_DB_MAX_CONNS; 0: db.DefaultMaxConns). Servers sharing one
	// database must together stay under its max_connections.
	DBMaxConns int
	Ops        OpsConfig
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
		DNSResolver: getenv("GUILDHALL_DNS_RESOLVER"),
	}
	proxies := getenv("GUILDHALL_TRUSTED_PROXIES")
	if v := strings.TrimSpace(getenv("GUILDHALL_DB_MAX_CONNS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("GUILDHALL_DB_MAX_CONNS: %q is not a whole number", v)
		}
		c.DBMaxConns = n
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (GUILDHALL_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "absolute base URL for links in emails (GUILDHALL_BASE_URL)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL DSN; unset runs an embedded cluster (DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data folder (GUILDHALL_DATA)")
	fs.StringVar(&c.SMTPURL, "smtp-url", c.SMTPURL, "smtp://user:pass@host:port (SMTP_URL)")
	fs.StringVar(&c.DNSResolver, "dns-resolver", c.DNSResolver, "DNS server host:port for domain verification; empty uses the system resolver (GUILDHALL_DNS_RESOLVER)")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "development mode: /dev/outbox (GUILDHALL_DEV=1)")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For counts (GUILDHALL_TRUSTED_PROXIES)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "most PostgreSQL connections this server opens; 0: "+strconv.Itoa(db.DefaultMaxConns)+" (GUILDHALL_DB_MAX_CONNS)")
	c.Ops = loadOps(getenv, fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.DBMaxConns < 0 || c.DBMaxConns > 1000 {
		return c, fmt.Errorf("database connections: %d is not from 1 to 1000 (0 or unset: %d)", c.DBMaxConns, db.DefaultMaxConns)
	}
	nets, err := ParseCIDRs(proxies)
	if err != nil {
		return c, err
	}
	c.TrustedProxies = nets
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

// ParseCIDRs reads a comma-separated list of CIDRs; a bare IP is one host.
func ParseCIDRs(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			ip := net.ParseIP(part)
			if ip == nil {
				return nil, fmt.Errorf("trusted proxies: %q is not an IP or CIDR", part)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is not a CIDR", part)
		}
		out = append(out, n)
	}
	return out, nil
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
