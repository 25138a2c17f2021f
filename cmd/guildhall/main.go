// Command guildhall runs the Guildhall web app and API (serve), applies
// migrations (migrate) and loads demo data (demo).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"guildhall/cmd/guildhall/cli"
	"guildhall/db"
	"guildhall/db/migrations"
	"guildhall/db/pgembed"
	"guildhall/handlers"
	"guildhall/web"
	"guildhall/web/mail"
	"guildhall/web/observability"
)

const usage = `Guildhall: organizations, teams and roles.

Usage:
  guildhall serve [flags]   run the web app and JSON API (migrates first)
  guildhall migrate         apply database migrations and exit
  guildhall demo [--size large]
                            load the demo data set (large: issue 12's org for load runs)

Command-line client (talks to a running server's JSON API):
` + cli.Verbs + `
Configuration comes from the environment (GUILDHALL_ADDR, GUILDHALL_BASE_URL,
DATABASE_URL, GUILDHALL_DATA, GUILDHALL_SECRET, SMTP_URL, GUILDHALL_DEV,
GUILDHALL_TRUSTED_PROXIES);
flags override it: run "guildhall serve -h".
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "migrate":
		err = withDB(ctx, os.Args[2:], func(_ web.Config, _ *sqlx.DB) error { return nil })
	case "demo":
		err = runDemo(ctx, os.Args[2:])
	case "login", "org", "buy":
		code := cli.Main(ctx, os.Args[1:])
		stop()
		os.Exit(code)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		log.Printf("guildhall: %v", err)
		os.Exit(1)
	}
}

// withDB opens the database (starting the embedded cluster when DATABASE_URL
// is unset), migrates it, runs fn, and stops the cluster.
func withDB(ctx context.Context, args []string, fn func(web.Config, *sqlx.DB) error) (err error) {
	cfg, err := web.LoadConfig(os.Getenv, args)
	if err != nil {
		return err
	}
	dsn := cfg.DatabaseURL
	if dsn == "" {
		cluster, err := pgembed.Start(ctx, pgembed.Options{Dir: cfg.DataDir, Logf: log.Printf})
		if err != nil {
			return err
		}
		defer func() {
			if serr := cluster.Stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		if err := cluster.CreateDatabase(ctx, "guildhall"); err != nil {
			return err
		}
		dsn = cluster.DSN("guildhall")
		log.Printf("embedded PostgreSQL running in %s", cluster.DataDir())
	}
	d, err := db.Open(ctx, dsn, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := migrations.Up(ctx, d.DB); err != nil {
		return err
	}
	return fn(cfg, d)
}

func serve(ctx context.Context, args []string) error { return serveOn(ctx, args, nil) }

// serveOn is serve, telling listening (when set) the address it bound: a
// test asks for port 0 and learns the port, rather than freeing one for
// the server that another process could take in between.
func serveOn(ctx context.Context, args []string, listening func(net.Addr)) error {
	return withDB(ctx, args, func(cfg web.Config, d *sqlx.DB) error {
		logger, err := observability.NewLogger(os.Stderr, cfg.Ops.LogFormat)
		if err != nil {
			return err
		}
		slog.SetDefault(logger) // log.Printf lines go through it too
		if os.Getenv("GOGC") == "" {
			// A request allocates a page's worth of short-lived garbage; at
			// the default 100 the collector ran about every 4 MB and took a
			// tenth of the CPU under load. 400 trades some tens of MB of
			// heap for that (GOGC in the environment still decides).
			debug.SetGCPercent(400)
		}
		store := db.New(d)
		secret, err := web.LoadSecret(cfg, func() string { s, _ := db.NewSecret(""); return s })
		if err != nil {
			return err
		}
		var mailer handlers.Mailer = mail.OutboxMailer{Store: store}
		if cfg.SMTPURL != "" {
			m, err := mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom)
			if err != nil {
				return err
			}
			q := mail.NewQueue(store, m)
			// The worker stops after the HTTP server has drained (requests
			// in flight may still queue mail), then delivers what is due.
			qctx, stopQueue := context.WithCancel(context.Background())
			qdone := make(chan struct{})
			go func() { defer close(qdone); q.Run(qctx) }()
			defer func() { stopQueue(); <-qdone; log.Print("mail worker stopped") }()
			mailer = q
		} else if !cfg.Dev {
			log.Print("SMTP_URL is not set: mail is kept in the outbox table (set GUILDHALL_DEV=1 to read it at /dev/outbox)")
		}
		srv := web.New(web.Options{Config: cfg, Store: store, Mailer: mailer, Secret: secret, Logger: slog.Default()})
		defer srv.Meter().Close() //nolint:errcheck // after the HTTP shutdown: writes the last counts, logs a failure
		hs := &http.Server{Addr: cfg.Addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
		// Listen first, so the address actually bound (a port 0 asks the
		// system for one) is logged before the first request.
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return err
		}
		log.Printf("listening on %s", ln.Addr())
		if listening != nil {
			listening(ln.Addr())
		}
		errc := make(chan error, 2)
		go func() { errc <- hs.Serve(ln) }()
		if cfg.Ops.MetricsAddr != "" {
			ms := &http.Server{Addr: cfg.Ops.MetricsAddr, Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
			go func() { errc <- ms.ListenAndServe() }()
			defer ms.Close()
			log.Printf("metrics at http://%s/metrics", cfg.Ops.MetricsAddr)
		}
		log.Printf("Guildhall is serving at %s", cfg.BaseURL)
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		log.Print("shutting down: draining requests in flight")
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}
