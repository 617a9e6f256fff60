package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `wecomflow serve` until the returned stop is called, and waits for it to listen.
func start(t *testing.T, env map[string]string) (addr string, stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, stdout, stderr)
	}()
	re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stdout, stderr, func() error { cancel(); return <-done }
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start:\n%s", stderr)
	return
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestFirstStartPrintsTheAdminTokenOnce(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"WECOMFLOW_DB": storetest.DSN(t), "WECOMFLOW_SECRET_KEY_FILE": filepath.Join(dir, "data", "secret.key")}
	addr, stdout, stderr, stop := start(t, env)
	token := regexp.MustCompile(`wcf_[A-Za-z0-9_-]+`).FindString(stdout.String())
	if token == "" {
		t.Fatalf("no token printed:\n%s", stdout)
	}
	if got := get(t, "http://"+addr+"/readyz", ""); got != 200 {
		t.Fatalf("readyz %d", got)
	}
	if got := get(t, "http://"+addr+"/api/v1/users", token); got != 200 {
		t.Fatalf("printed token refused: %d", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if strings.Contains(stderr.String(), token) {
		t.Fatal("the token was logged")
	}
	key, err := os.ReadFile(env["WECOMFLOW_SECRET_KEY_FILE"])
	if err != nil || strings.Contains(stderr.String(), strings.TrimSpace(string(key))) {
		t.Fatalf("key file missing or logged: %v", err)
	}
	for _, want := range []string{"generated a new secret key", "admin_token=generated", "dialect="} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("start log lacks %q:\n%s", want, stderr)
		}
	}

	// The second start prints nothing and the first token still works.
	addr, stdout, stderr, stop = start(t, env)
	defer stop()
	if strings.Contains(stdout.String(), "wcf_") {
		t.Fatalf("token printed again:\n%s", stdout)
	}
	if !strings.Contains(stderr.String(), "admin_token=stored") {
		t.Errorf("second start log:\n%s", stderr)
	}
	if got := get(t, "http://"+addr+"/api/v1/users", token); got != 200 {
		t.Fatalf("token refused after restart: %d", got)
	}
}

func TestConfiguredAdminTokenReplacesTheBootstrapToken(t *testing.T) {
	env := map[string]string{"WECOMFLOW_DB": storetest.DSN(t), "WECOMFLOW_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "WECOMFLOW_ADMIN_TOKEN": "first-admin-token"}
	addr, stdout, _, stop := start(t, env)
	if stdout.String() != "" || get(t, "http://"+addr+"/api/v1/users", "first-admin-token") != 200 {
		t.Fatalf("configured token: printed %q", stdout)
	}
	stop()
	env["WECOMFLOW_ADMIN_TOKEN"] = "second-admin-token"
	addr, _, _, stop = start(t, env)
	defer stop()
	if get(t, "http://"+addr+"/api/v1/users", "first-admin-token") != 401 || get(t, "http://"+addr+"/api/v1/users", "second-admin-token") != 200 {
		t.Fatal("the changed WECOMFLOW_ADMIN_TOKEN did not replace the old one")
	}
}

func TestMigrateVersionAndConfigErrors(t *testing.T) {
	var out, errb bytes.Buffer
	env := map[string]string{"WECOMFLOW_DB": storetest.DSN(t), "WECOMFLOW_SECRET_KEY_FILE": filepath.Join(t.TempDir(), "k")}
	getenv := func(k string) string { return env[k] }
	for i := 0; i < 2; i++ {
		if err := run(context.Background(), []string{"migrate"}, getenv, &out, &errb); err != nil {
			t.Fatalf("migrate %d: %v\n%s", i, err, errb.String())
		}
	}
	if err := run(context.Background(), []string{"version"}, getenv, &out, &errb); err != nil || !strings.Contains(out.String(), "wecomflow dev") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	for _, args := range [][]string{
		{"serve", "-log-format", "xml"},
		{"serve", "-callback-max-skew", "soon"},
		{"serve", "-public-url", "localhost"},
		{"serve", "-fetch-allow", "127.0.0.1"},
		{"serve", "-db", "postgres://x"},
		{"launch"},
	} {
		if err := run(context.Background(), args, getenv, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	// A flag wins over its environment variable.
	cfg, err := parseConfig("serve", []string{"-addr", ":9999"}, func(k string) string {
		return map[string]string{"WECOMFLOW_ADDR": ":7777", "WECOMFLOW_PUBLIC_URL": "https://wf.example.com"}[k]
	}, &errb)
	if err != nil || cfg.Addr != ":9999" || cfg.PublicURL != "https://wf.example.com" {
		t.Fatalf("config %+v %v", cfg, err)
	}
}
