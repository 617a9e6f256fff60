package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRetentionSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env string
		want      time.Duration
		bad       bool
	}{
		{want: 720 * time.Hour},
		{env: "168h", want: 168 * time.Hour},
		{flag: "48h", env: "168h", want: 48 * time.Hour},
		{env: "0", want: 0},
		{flag: "0s", want: 0},
		{flag: "24h", want: 24 * time.Hour},
		// Shorter than an idempotency key's 24 hours, negative, or not a duration.
		{flag: "12h", bad: true},
		{flag: "-1h", bad: true},
		{env: "30d", bad: true},
	} {
		var args []string
		if tc.flag != "" {
			args = []string{"-retention", tc.flag}
		}
		getenv := func(k string) string {
			if k == "WECOMFLOW_RETENTION" {
				return tc.env
			}
			return ""
		}
		cfg, err := parseConfig("serve", args, getenv, io.Discard)
		switch {
		case tc.bad && err == nil:
			t.Errorf("flag %q env %q: accepted as %s", tc.flag, tc.env, cfg.Retention)
		case !tc.bad && (err != nil || cfg.Retention != tc.want):
			t.Errorf("flag %q env %q: %s, %v; want %s", tc.flag, tc.env, cfg.Retention, err, tc.want)
		}
	}
}

// WECOMFLOW_FETCH_ALLOW and WECOMFLOW_TRUSTED_PROXIES (or -fetch-allow, -trusted-proxies) take
// comma-separated CIDRs and bare addresses, the flag over the variable; anything else stops the
// start with a message naming the setting.
func TestAddressRangeSettings(t *testing.T) {
	t.Parallel()
	for _, setting := range []struct {
		flag, env string
		get       func(config) []netip.Prefix
	}{
		{"fetch-allow", "WECOMFLOW_FETCH_ALLOW", func(c config) []netip.Prefix { return c.FetchAllow }},
		{"trusted-proxies", "WECOMFLOW_TRUSTED_PROXIES", func(c config) []netip.Prefix { return c.TrustedProxies }},
	} {
		for _, tc := range []struct {
			flag, env string
			want      string
			bad       bool
		}{
			{want: "[]"},
			{env: " 127.0.0.0/8 , 10.20.0.0/16,fd00::/8", want: "[127.0.0.0/8 10.20.0.0/16 fd00::/8]"},
			{env: "10.0.0.0/8, 192.168.1.5", want: "[10.0.0.0/8 192.168.1.5/32]"},
			{flag: "fd00::/8,::1", env: "127.0.0.0/8", want: "[fd00::/8 ::1/128]"},
			{env: "172.16.0.1/12", want: "[172.16.0.0/12]"},
			{flag: "10.0.0.0/40", bad: true},
			{env: "intranet.example.com/24", bad: true},
			{flag: "proxy.internal", bad: true},
		} {
			var args []string
			if tc.flag != "" {
				args = []string{"-" + setting.flag, tc.flag}
			}
			getenv := func(k string) string {
				if k == setting.env {
					return tc.env
				}
				return ""
			}
			cfg, err := parseConfig("serve", args, getenv, io.Discard)
			got := fmt.Sprint(setting.get(cfg))
			switch {
			case tc.bad && (err == nil || !strings.HasPrefix(err.Error(), setting.flag+": ")):
				t.Errorf("%s: flag %q env %q: %s, %v; want an error naming it", setting.flag, tc.flag, tc.env, got, err)
			case !tc.bad && (err != nil || got != tc.want):
				t.Errorf("%s: flag %q env %q: %s, %v; want %s", setting.flag, tc.flag, tc.env, got, err, tc.want)
			}
		}
	}
}

// The pages warn about callback URLs on the default public URL only when nobody configured one;
// the sandbox's default is where it listens, so it is not a guess.
func TestPublicURLUnset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd, flag, env string
		want           bool
	}{
		{cmd: "serve", want: true},
		{cmd: "serve", env: "https://wecomflow.example.com"},
		{cmd: "serve", flag: "http://localhost:8080"},
		{cmd: "sandbox"},
	} {
		var args []string
		if tc.flag != "" {
			args = []string{"-public-url", tc.flag}
		}
		getenv := func(k string) string {
			if k == "WECOMFLOW_PUBLIC_URL" {
				return tc.env
			}
			return ""
		}
		cfg, err := parseConfig(tc.cmd, args, getenv, io.Discard)
		if err != nil || cfg.PublicURLUnset != tc.want {
			t.Errorf("%s flag %q env %q: unset %v, %v; want %v", tc.cmd, tc.flag, tc.env, cfg.PublicURLUnset, err, tc.want)
		}
	}
}

// WECOMFLOW_DISPLAY_TZ names the pages' time zone; a name that is not one stops the start.
func TestDisplayTimeZone(t *testing.T) {
	t.Parallel()
	getenv := func(tz string) func(string) string {
		return func(k string) string {
			if k == "WECOMFLOW_DISPLAY_TZ" {
				return tz
			}
			return ""
		}
	}
	if cfg, err := parseConfig("serve", nil, getenv(""), io.Discard); err != nil || cfg.DisplayZone != nil {
		t.Errorf("unset: %v, %v", cfg.DisplayZone, err)
	}
	if cfg, err := parseConfig("serve", nil, getenv("UTC"), io.Discard); err != nil || cfg.DisplayZone == nil || cfg.DisplayZone.String() != "UTC" {
		t.Errorf("UTC: %v, %v", cfg.DisplayZone, err)
	}
	if _, err := parseConfig("serve", []string{"-display-tz", "Mars/Olympus"}, getenv(""), io.Discard); err == nil || !strings.Contains(err.Error(), "display-tz") {
		t.Errorf("a zone that does not exist: %v", err)
	}
}
