package main

import (
	"bytes"
	"context"
	"io"
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
	re := regexp.MustCompile(`msg="wecomflow started"[^\n]* addr=(127\.0\.0\.1:\d+)`)
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
	const first, second = "first-admin-token-0123456789", "second-admin-token-0123456789"
	env := map[string]string{"WECOMFLOW_DB": storetest.DSN(t), "WECOMFLOW_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "WECOMFLOW_ADMIN_TOKEN": first}
	addr, stdout, _, stop := start(t, env)
	if stdout.String() != "" || get(t, "http://"+addr+"/api/v1/users", first) != 200 {
		t.Fatalf("configured token: printed %q", stdout)
	}
	stop()
	env["WECOMFLOW_ADMIN_TOKEN"] = second
	addr, _, _, stop = start(t, env)
	defer stop()
	if get(t, "http://"+addr+"/api/v1/users", first) != 401 || get(t, "http://"+addr+"/api/v1/users", second) != 200 {
		t.Fatal("the changed WECOMFLOW_ADMIN_TOKEN did not replace the old one")
	}
	// Its hint shows its first 4 characters, no more.
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+second)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `"hint":"seco…"`) {
		t.Fatalf("the configured token's hint: %s", body)
	}
}

// A configured admin token shorter than 24 characters stops the start with a message naming the
// setting and the minimum, never the value; the sandbox's documented public token still works.
func TestShortAdminTokenIsRefused(t *testing.T) {
	const short = "short-admin-token"
	env := map[string]string{"WECOMFLOW_DB": storetest.DSN(t), "WECOMFLOW_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"variable":         {env: map[string]string{"WECOMFLOW_ADMIN_TOKEN": "a"}, args: []string{"serve"}},
		"flag":             {args: []string{"serve", "-admin-token", short}},
		"sandbox variable": {env: map[string]string{"WECOMFLOW_ADMIN_TOKEN": short}, args: []string{"sandbox"}},
	} {
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			if v, ok := tc.env[k]; ok {
				return v
			}
			return env[k]
		}
		args := append(tc.args, "-addr", "127.0.0.1:0", "-db", env["WECOMFLOW_DB"])
		// Refused before anything is opened: a canceled context is all it gets, and a start that
		// went ahead anyway ends at once instead of serving on.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := run(ctx, args, getenv, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "WECOMFLOW_ADMIN_TOKEN") || !strings.Contains(err.Error(), "at least 24 characters") {
			t.Errorf("%s: %v, want a refusal naming WECOMFLOW_ADMIN_TOKEN and 24 characters", name, err)
		} else if strings.Contains(err.Error(), short) {
			t.Errorf("%s: the refusal shows the value: %v", name, err)
		}
		if strings.Contains(out.String()+errb.String(), "wecomflow started") {
			t.Errorf("%s: started anyway", name)
		}
	}
	for _, tc := range []struct {
		cmd, token string
	}{{"sandbox", ""}, {"sandbox", sandboxToken}, {"serve", "exactly-24-characters-ok"}} {
		cfg, err := parseConfig(tc.cmd, nil, func(k string) string {
			if k == "WECOMFLOW_ADMIN_TOKEN" {
				return tc.token
			}
			return ""
		}, io.Discard)
		if err != nil || cfg.AdminToken == "" {
			t.Errorf("%s with %q: %v", tc.cmd, tc.token, err)
		}
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
		{"serve", "-wecom-login-base", "login.work.weixin.qq.com"},
		{"sandbox", "-wecom-oauth-base", "ftp://open.weixin.qq.com"},
		{"serve", "-fetch-allow", "127.0.0.1/33"},
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
	// WeCom's sign-in pages default to WeCom's hosts; a proxy or a test names others.
	cfg, err = parseConfig("serve", []string{"-wecom-oauth-base", "http://127.0.0.1:9000"}, func(k string) string {
		return map[string]string{"WECOMFLOW_WECOM_LOGIN_BASE": "https://login.example.com"}[k]
	}, &errb)
	if err != nil || cfg.WeComLoginBase != "https://login.example.com" || cfg.WeComOAuthBase != "http://127.0.0.1:9000" {
		t.Fatalf("sign-in bases %+v %v", cfg, err)
	}
	if cfg, _ = parseConfig("serve", nil, func(string) string { return "" }, &errb); cfg.WeComLoginBase != "https://login.work.weixin.qq.com" ||
		cfg.WeComOAuthBase != "https://open.weixin.qq.com" {
		t.Fatalf("default sign-in bases %q %q", cfg.WeComLoginBase, cfg.WeComOAuthBase)
	}
}
