package main

import (
	"io"
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
