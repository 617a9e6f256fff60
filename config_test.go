package main

import (
	"fmt"
	"io"
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

// WECOMFLOW_TRUSTED_PROXIES (or -trusted-proxies) takes CIDRs and bare addresses; anything else
// stops the start with a message naming the setting.
func TestTrustedProxiesSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env string
		want      string
		bad       bool
	}{
		{want: "[]"},
		{env: "10.0.0.0/8, 192.168.1.5", want: "[10.0.0.0/8 192.168.1.5/32]"},
		{env: "10.0.0.0/8", flag: "fd00::/8,::1", want: "[fd00::/8 ::1/128]"},
		{env: "172.16.0.1/12", want: "[172.16.0.0/12]"},
		{env: "10.0.0.0/33", bad: true},
		{flag: "proxy.internal", bad: true},
	} {
		var args []string
		if tc.flag != "" {
			args = []string{"-trusted-proxies", tc.flag}
		}
		cfg, err := parseConfig("serve", args, func(k string) string {
			if k == "WECOMFLOW_TRUSTED_PROXIES" {
				return tc.env
			}
			return ""
		}, io.Discard)
		switch {
		case tc.bad && (err == nil || !strings.HasPrefix(err.Error(), "trusted-proxies: ")):
			t.Errorf("flag %q env %q: %v, want a trusted-proxies error", tc.flag, tc.env, err)
		case !tc.bad && (err != nil || fmt.Sprint(cfg.TrustedProxies) != tc.want):
			t.Errorf("flag %q env %q: %v, %v; want %s", tc.flag, tc.env, cfg.TrustedProxies, err, tc.want)
		}
	}
}
