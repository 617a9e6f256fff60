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

func TestFetchAllowSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env string
		want      string
		bad       bool
	}{
		{want: "[]"},
		{env: "127.0.0.0/8", want: "[127.0.0.0/8]"},
		{env: " 127.0.0.0/8 , 10.20.0.0/16,fd00::/8", want: "[127.0.0.0/8 10.20.0.0/16 fd00::/8]"},
		{flag: "192.168.1.7/32", env: "127.0.0.0/8", want: "[192.168.1.7/32]"},
		// A bare address, a bad length, a name.
		{env: "127.0.0.1", bad: true},
		{flag: "10.0.0.0/40", bad: true},
		{env: "intranet.example.com/24", bad: true},
	} {
		var args []string
		if tc.flag != "" {
			args = []string{"-fetch-allow", tc.flag}
		}
		getenv := func(k string) string {
			if k == "WECOMFLOW_FETCH_ALLOW" {
				return tc.env
			}
			return ""
		}
		cfg, err := parseConfig("serve", args, getenv, io.Discard)
		got := fmt.Sprint(cfg.FetchAllow)
		switch {
		case tc.bad && (err == nil || !strings.HasPrefix(err.Error(), "fetch-allow: ")):
			t.Errorf("flag %q env %q: %s, %v; want an error naming fetch-allow", tc.flag, tc.env, got, err)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("flag %q env %q: %s, %v; want %s", tc.flag, tc.env, got, err, tc.want)
		}
	}
}
