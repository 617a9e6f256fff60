package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/service"
)

// config is the process configuration: every value from a flag, else its WECOMFLOW_* variable,
// else a default that works on a laptop.
type config struct {
	Addr            string
	DB              string
	SecretKey       string
	SecretKeyFile   string
	AdminToken      string
	PublicURL       string
	WeComAPIBase    string
	WeComLoginBase  string // WeCom's QR sign-in page, for desktop browsers
	WeComOAuthBase  string // WeCom's OAuth sign-in page, inside the WeCom app
	CallbackMaxSkew time.Duration
	LogFormat       string
	ShutdownGrace   time.Duration
	// Retention is how long finished messages, callback events, executions and sync tasks are
	// kept; 0 keeps them forever.
	Retention time.Duration
	// TemplateEnv is the names of WECOMFLOW_TEMPLATE_ENV with their values: all {{$env.NAME}} may read.
	TemplateEnv map[string]string
	// AllowRemote lets the sandbox listen beyond loopback although its admin token is public.
	AllowRemote bool
	// FetchAllow are the ranges of WECOMFLOW_FETCH_ALLOW: internal addresses that URLs given by
	// users may reach after all.
	FetchAllow []netip.Prefix
	// TrustedProxies are the proxies whose X-Forwarded-For is believed; none by default.
	TrustedProxies []netip.Prefix
	// DisplayZone is the time zone of WECOMFLOW_DISPLAY_TZ that the pages show times in; nil: the
	// server's (TZ) for English pages, Asia/Shanghai for Chinese ones.
	DisplayZone *time.Location
	// PublicURLUnset: neither -public-url nor WECOMFLOW_PUBLIC_URL was given, so PublicURL is the
	// laptop default, which WeCom cannot call back.
	PublicURLUnset bool
	// PprofAddr, when set, is the loopback address Go's profiles are served on (serve only).
	PprofAddr string
}

func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("wecomflow "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The sandbox listens on loopback only, keeps its own database and has a known token.
	// Its public URL is where it listens unless one is given: the sign-in's way back must reach the
	// browser's own host, or its cookie stays behind.
	defaults := map[string]string{"addr": ":8080", "db": "sqlite://data/wecomflow.db", "admin-token": "", "public-url": "http://localhost:8080"}
	if cmd == "sandbox" {
		defaults = map[string]string{"addr": sandboxAddr, "db": sandboxDB, "admin-token": sandboxToken, "public-url": ""}
	}
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("WECOMFLOW_ADDR", defaults["addr"]), "listen address (WECOMFLOW_ADDR)")
	fs.StringVar(&c.DB, "db", env("WECOMFLOW_DB", defaults["db"]), "sqlite://PATH or mysql://USER:PASS@tcp(HOST:PORT)/DB?parseTime=true (WECOMFLOW_DB)")
	fs.StringVar(&c.SecretKey, "secret-key", env("WECOMFLOW_SECRET_KEY", ""), "32-byte base64 key that encrypts secrets at rest (WECOMFLOW_SECRET_KEY); default: generated into -secret-key-file")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", env("WECOMFLOW_SECRET_KEY_FILE", "data/secret.key"), "where the generated key is kept when no key is given (WECOMFLOW_SECRET_KEY_FILE)")
	fs.StringVar(&c.AdminToken, "admin-token", env("WECOMFLOW_ADMIN_TOKEN", defaults["admin-token"]), "bootstrap admin API token (WECOMFLOW_ADMIN_TOKEN); default: generated on first start and printed once")
	fs.StringVar(&c.PublicURL, "public-url", env("WECOMFLOW_PUBLIC_URL", defaults["public-url"]), "base of the callback URLs shown to admins and of the sign-in's way back from WeCom (WECOMFLOW_PUBLIC_URL)")
	fs.StringVar(&c.WeComAPIBase, "wecom-api-base", env("WECOMFLOW_WECOM_API_BASE", "https://qyapi.weixin.qq.com"), "default WeCom API base (WECOMFLOW_WECOM_API_BASE)")
	fs.StringVar(&c.WeComLoginBase, "wecom-login-base", env("WECOMFLOW_WECOM_LOGIN_BASE", wecom.DefaultLoginBase), "base of WeCom's QR sign-in page for desktop browsers (WECOMFLOW_WECOM_LOGIN_BASE)")
	fs.StringVar(&c.WeComOAuthBase, "wecom-oauth-base", env("WECOMFLOW_WECOM_OAUTH_BASE", wecom.DefaultOAuthBase), "base of WeCom's OAuth sign-in page inside the WeCom app (WECOMFLOW_WECOM_OAUTH_BASE)")
	skew := fs.String("callback-max-skew", env("WECOMFLOW_CALLBACK_MAX_SKEW", "300s"), "reject callbacks whose timestamp is further from now; 0 disables (WECOMFLOW_CALLBACK_MAX_SKEW)")
	fs.StringVar(&c.LogFormat, "log-format", env("WECOMFLOW_LOG_FORMAT", "text"), "text or json (WECOMFLOW_LOG_FORMAT)")
	templateEnv := fs.String("template-env", env("WECOMFLOW_TEMPLATE_ENV", ""), "comma-separated environment variables templates may read as {{$env.NAME}} (WECOMFLOW_TEMPLATE_ENV)")
	grace := fs.String("shutdown-grace", env("WECOMFLOW_SHUTDOWN_GRACE", "20s"), "how long in-flight requests get to finish on shutdown (WECOMFLOW_SHUTDOWN_GRACE)")
	proxies := fs.String("trusted-proxies", env("WECOMFLOW_TRUSTED_PROXIES", ""), "comma-separated CIDRs of the reverse proxies whose X-Forwarded-For names the client; default none: the client is the connection's peer (WECOMFLOW_TRUSTED_PROXIES)")
	retention := fs.String("retention", env("WECOMFLOW_RETENTION", "720h"), "delete finished messages, callback events, executions and sync tasks older than this (at least 24h); 0 keeps everything (WECOMFLOW_RETENTION)")
	if cmd == "serve" {
		fs.StringVar(&c.PprofAddr, "pprof-addr", env("WECOMFLOW_PPROF_ADDR", ""), "serve Go's profiles (/debug/pprof/) on this loopback address, like 127.0.0.1:6060; default off (WECOMFLOW_PPROF_ADDR)")
	}
	if cmd == "sandbox" {
		fs.BoolVar(&c.AllowRemote, "allow-remote", false, "let the sandbox listen on a non-loopback -addr although its admin token is public")
	}
	displayTZ := fs.String("display-tz", env("WECOMFLOW_DISPLAY_TZ", ""), "time zone the web pages show times in, like Asia/Shanghai or UTC; default the server's (TZ) for English pages and Asia/Shanghai for Chinese ones (WECOMFLOW_DISPLAY_TZ)")
	fetchAllow := fs.String("fetch-allow", env("WECOMFLOW_FETCH_ALLOW", ""), "comma-separated CIDR ranges that URLs given by users (media.url) may reach although they are loopback, private or otherwise internal, like 10.20.0.0/16 (WECOMFLOW_FETCH_ALLOW)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// The sandbox's default is where it listens, which is right; serve's is a guess.
	c.PublicURLUnset = cmd != "sandbox" && strings.TrimSpace(getenv("WECOMFLOW_PUBLIC_URL")) == ""
	fs.Visit(func(f *flag.Flag) { c.PublicURLUnset = c.PublicURLUnset && f.Name != "public-url" })
	var err error
	if c.CallbackMaxSkew, err = time.ParseDuration(*skew); err != nil || c.CallbackMaxSkew < 0 {
		return c, fmt.Errorf("callback-max-skew: %q is not a duration like 300s", *skew)
	}
	if c.ShutdownGrace, err = time.ParseDuration(*grace); err != nil || c.ShutdownGrace < 0 {
		return c, fmt.Errorf("shutdown-grace: %q is not a duration like 20s", *grace)
	}
	if c.Retention, err = time.ParseDuration(*retention); err != nil || c.Retention < 0 ||
		(c.Retention > 0 && c.Retention < service.MinRetention) {
		return c, fmt.Errorf("retention: %q must be 0 (keep everything) or a duration of at least 24h, like 720h", *retention)
	}
	if *displayTZ != "" {
		if c.DisplayZone, err = time.LoadLocation(*displayTZ); err != nil {
			return c, fmt.Errorf("display-tz: %q is not a time zone like Asia/Shanghai or UTC: %w", *displayTZ, err)
		}
	}
	if c.FetchAllow, err = parsePrefixes(*fetchAllow); err != nil {
		return c, fmt.Errorf("fetch-allow: %w", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("log-format: must be text or json, not %q", c.LogFormat)
	}
	// The sandbox's own token is public and documented, on loopback; anything a person configured
	// must be long enough not to be guessed.
	if c.AdminToken != "" && !(cmd == "sandbox" && c.AdminToken == sandboxToken) {
		if n := utf8.RuneCountInString(c.AdminToken); n < service.MinConfiguredTokenLength {
			return c, fmt.Errorf("admin-token: WECOMFLOW_ADMIN_TOKEN (or -admin-token) must be at least %d characters, not %d; make one with `openssl rand -hex 16`",
				service.MinConfiguredTokenLength, n)
		}
	}
	// Profiles show the code's hot paths and every goroutine's stack: for whoever is on the machine.
	if c.PprofAddr != "" && !loopbackAddr(c.PprofAddr) {
		return c, fmt.Errorf("pprof-addr: %q is not a loopback address like 127.0.0.1:6060", c.PprofAddr)
	}
	if c.TrustedProxies, err = parsePrefixes(*proxies); err != nil {
		return c, fmt.Errorf("trusted-proxies: %w", err)
	}
	c.TemplateEnv = map[string]string{}
	for _, name := range strings.Split(*templateEnv, ",") {
		if name = strings.TrimSpace(name); name != "" {
			c.TemplateEnv[name] = getenv(name)
		}
	}
	for name, v := range map[string]string{"public-url": c.PublicURL, "wecom-api-base": c.WeComAPIBase,
		"wecom-login-base": c.WeComLoginBase, "wecom-oauth-base": c.WeComOAuthBase} {
		if v == "" && name == "public-url" && cmd == "sandbox" {
			continue // the address it listens on
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("%s: %q is not an http(s) URL", name, v)
		}
	}
	return c, nil
}

// parsePrefixes reads the comma-separated address ranges of -fetch-allow and -trusted-proxies:
// CIDRs, and bare addresses standing for themselves alone.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR range like 10.0.0.0/8 or an address like 10.0.0.5", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
