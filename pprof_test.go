package main

import (
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/models/storetest"
)

// Go's profiles are served only when asked for, on their own loopback port, and never the command
// line (it can hold the admin token).
func TestPprofListener(t *testing.T) {
	env := map[string]string{"WECOMFLOW_DB": storetest.DSN(t), "WECOMFLOW_SECRET_KEY_FILE": filepath.Join(t.TempDir(), "secret.key"),
		"WECOMFLOW_PPROF_ADDR": "127.0.0.1:0"}
	addr, _, stderr, stop := start(t, env)
	defer stop()
	m := regexp.MustCompile(`msg="pprof listening" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no pprof listener logged:\n%s", stderr)
	}
	for path, want := range map[string]int{"/debug/pprof/": 200, "/debug/pprof/goroutine?debug=1": 200, "/debug/pprof/cmdline": 404} {
		if got := get(t, "http://"+m[1]+path, ""); got != want {
			t.Errorf("pprof %s: %d, want %d", path, got, want)
		}
	}
	if got := get(t, "http://"+addr+"/debug/pprof/", ""); got != 404 {
		t.Errorf("the API port serves /debug/pprof/: %d", got)
	}

	for _, bad := range []string{":6060", "0.0.0.0:6060", "192.0.2.1:6060", "127.0.0.1"} {
		_, err := parseConfig("serve", []string{"-pprof-addr", bad}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "pprof-addr: ") {
			t.Errorf("-pprof-addr %s: %v, want refused", bad, err)
		}
	}
	if cfg, err := parseConfig("serve", nil, func(string) string { return "" }, io.Discard); err != nil || cfg.PprofAddr != "" {
		t.Errorf("default: %q, %v; want off", cfg.PprofAddr, err)
	}
}
