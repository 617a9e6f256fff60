// Command wecomflow is a self-hosted server that notifies a company's people through WeCom
// (企业微信). Run `wecomflow help` for the commands; configuration comes from flags and
// WECOMFLOW_* environment variables, flags winning.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/server"
)

// Set by the release build with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wecomflow:", err)
		os.Exit(1)
	}
}

const usage = `wecomflow — notify your people through WeCom (企业微信)

Usage: wecomflow [command] [flags]

Commands:
  serve     migrate the database, then serve HTTP until SIGINT/SIGTERM (default)
  sandbox   serve with an in-process WeCom simulator and a seeded demo corp; nothing leaves the machine
  migrate   migrate the database and exit
  version   print version, commit and Go version

Run "wecomflow serve -h" for the flags; each has a WECOMFLOW_* environment variable.
`

// run is main without the process: tests call it with their own args, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "wecomflow %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve", "migrate", "sandbox":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	cfg, err := parseConfig(cmd, args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)
	app, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.store.Close()
	if cmd == "migrate" {
		log.Info("migrations applied", "schema_version", models.SchemaVersion())
		return nil
	}
	if cmd == "sandbox" {
		return sandbox(ctx, cfg, app, log, stdout)
	}
	return serve(ctx, cfg, app, log, stdout)
}

// app is what open prepared: a migrated store and how the admin token was settled.
type app struct {
	store     *models.Store
	keySource string
}

func open(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	key, keySource, err := loadKey(cfg, log)
	if err != nil {
		return nil, err
	}
	c, err := models.NewCipher(key)
	if err != nil {
		return nil, err
	}
	store, err := models.Open(ctx, cfg.DB, models.Options{Cipher: c})
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return &app{store: store, keySource: keySource}, nil
}

func loadKey(cfg config, log *slog.Logger) ([]byte, string, error) {
	if cfg.SecretKey != "" {
		k, err := models.ParseKey(cfg.SecretKey)
		return k, "WECOMFLOW_SECRET_KEY", err
	}
	k, created, err := models.LoadOrCreateKeyFile(cfg.SecretKeyFile)
	if created {
		log.Warn("generated a new secret key; back it up — without it the stored WeCom secrets cannot be read",
			"file", cfg.SecretKeyFile)
	}
	return k, cfg.SecretKeyFile, err
}

func serve(ctx context.Context, cfg config, a *app, log *slog.Logger, stdout io.Writer) error {
	srv := server.New(server.Config{Addr: cfg.Addr, PublicURL: cfg.PublicURL, PublicURLUnset: cfg.PublicURLUnset, DisplayZone: cfg.DisplayZone, Version: version, Commit: buildCommit(), Retention: cfg.Retention,
		WeComAPIBase: cfg.WeComAPIBase, WeComLoginBase: cfg.WeComLoginBase, WeComOAuthBase: cfg.WeComOAuthBase,
		TemplateEnv: cfg.TemplateEnv, CallbackMaxSkew: cfg.CallbackMaxSkew, FetchAllow: cfg.FetchAllow,
		TrustedProxies: cfg.TrustedProxies}, a.store, log)
	generated, err := srv.Service().Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	tokenSource := "stored"
	switch {
	case cfg.AdminToken != "":
		tokenSource = "WECOMFLOW_ADMIN_TOKEN"
	case generated != "":
		tokenSource = "generated"
		// Printed, never logged: this is the only time the value exists outside its owner's hands.
		fmt.Fprintf(stdout, "\n  wecomflow admin API token (shown once; keep it, it is stored only as a hash):\n\n    %s\n\n  Use it as: Authorization: Bearer <token>\n\n", generated)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	log.Info("wecomflow started", "version", version, "addr", ln.Addr().String(), "db", models.RedactDSN(cfg.DB),
		"dialect", a.store.Dialect, "public_url", cfg.PublicURL, "wecom_api_base", cfg.WeComAPIBase,
		"wecom_login_base", cfg.WeComLoginBase, "wecom_oauth_base", cfg.WeComOAuthBase,
		"callback_max_skew", cfg.CallbackMaxSkew.String(), "retention", cfg.Retention.String(), "log_format", cfg.LogFormat,
		"fetch_allow", fmt.Sprint(cfg.FetchAllow), "secret_key", a.keySource, "admin_token", tokenSource,
		"trusted_proxies", fmt.Sprint(cfg.TrustedProxies))
	return srv.Run(ctx, ln, cfg.ShutdownGrace)
}

func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
