package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/fetch/fetchtest"
	"github.com/wecomflow/wecomflow/models"
)

// countingServer is fetchtest.Server, serving a small PNG when h is nil.
func countingServer(t *testing.T, addr string, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...))
		}
	}
	return fetchtest.Server(t, addr, h)
}

// A media.url that points inside — loopback by address or by name, private, link-local (cloud
// metadata), IPv6 loopback, or a permitted server's redirect to loopback — is a 422 naming the
// field, on a send and on a channel test; nothing is fetched from inside, nothing stored, nothing
// uploaded, and the sentence does not say what answered on which port.
func TestMediaURLsInsideTheNetworkAreRefused(t *testing.T) {
	t.Parallel()
	inside, insideHits := countingServer(t, "127.0.0.1:0", nil)
	port := inside.Listener.Addr().(*net.TCPAddr).Port
	// The server on 127.0.0.2 stands for a public host: only its /32 is allowed.
	outside, outsideHits := countingServer(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/chart.png", http.StatusFound)
	})
	if outside == nil {
		t.Skip("cannot listen on 127.0.0.2")
	}
	v6URL := fmt.Sprintf("http://[::1]:%d/chart.png", port)
	v6, v6Hits := countingServer(t, "[::1]:0", nil)
	if v6 != nil {
		v6URL = v6.URL + "/chart.png"
	}
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	to := map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}
	for _, tc := range []struct {
		name, msgtype, url string
		redirect           bool
	}{
		{"loopback", "image", inside.URL + "/chart.png", false},
		{"localhost", "image", fmt.Sprintf("http://localhost:%d/chart.png", port), false},
		{"private", "file", "http://10.0.0.1/report.pdf", false},
		{"metadata", "image", "http://169.254.169.254/latest/meta-data/", false},
		{"IPv6 loopback", "voice", v6URL, false},
		{"redirect to loopback", "image", outside.URL + "/chart.png", true},
	} {
		for _, path := range []string{"/api/v1/messages", "/api/v1/channels/1/test"} {
			body := map[string]any{"channel": "ops", "to": to, "msgtype": tc.msgtype,
				tc.msgtype: map[string]any{"media": map[string]any{"url": tc.url}}}
			res := e.do("POST", path, body)
			field := tc.msgtype + ".media.url"
			reason, _ := res.Fields()[field].(string)
			want := "points to an address the server does not fetch from"
			if tc.redirect {
				want = "redirects to an address the server does not fetch from"
			}
			if res.Status != 422 || !strings.HasPrefix(reason, want) || !strings.Contains(reason, "WECOMFLOW_FETCH_ALLOW") {
				t.Errorf("%s, %s: %d %s", tc.name, path, res.Status, res.Body)
				continue
			}
			for _, leak := range []string{fmt.Sprint(port), "127.0.0.1", "::1", "10.0.0.1", "169.254", "refused", "dial", "timeout"} {
				if strings.Contains(string(res.Body), leak) && !strings.Contains(tc.url, leak) {
					t.Errorf("%s, %s: the answer reveals %q: %s", tc.name, path, leak, res.Body)
				}
			}
		}
	}
	if n := insideHits.Load() + v6Hits.Load(); n != 0 {
		t.Errorf("the servers inside got %d requests", n)
	}
	if n := outsideHits.Load(); n != 2 {
		t.Errorf("the allowed server got %d requests, want 2 (one send, one channel test)", n)
	}
	if total := e.must(200, "GET", "/api/v1/messages", nil).JSON()["total"]; total != 0.0 {
		t.Errorf("%v messages stored", total)
	}
	var media int64
	if err := e.store.DB.Model(&models.Media{}).Count(&media).Error; err != nil || media != 0 {
		t.Errorf("%d media stored (%v)", media, err)
	}
	if n := e.sim.Calls("media/upload"); n != 0 {
		t.Errorf("%d uploads to WeCom", n)
	}
}

// A workflow's notification node fetches through the same guard: its job fails with the reason.
func TestWorkflowMediaURLInsideFailsTheJob(t *testing.T) {
	t.Parallel()
	inside, hits := countingServer(t, "127.0.0.1:0", nil)
	e := newWorkflowEnv(t, deliveryOptions{})
	wf := e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "chart", "title": "chart", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "tell", "type": "notification", "config": map[string]any{"channel": "ops", "msgtype": "image",
			"to": map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}, "image": map[string]any{"media": map[string]any{"url": inside.URL + "/chart.png"}}}}}}).Data()
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger?wait=10s", wf["id"]), map[string]any{"data": map[string]any{}}).Data()
	job := jobOf(x, "tell")
	if x["status"] != "failed" || job == nil || !strings.Contains(fmt.Sprint(job["error"]), "image.media.url: points to an address the server does not fetch from") {
		t.Fatalf("execution: %v", x)
	}
	if hits.Load() != 0 || e.sim.Calls("media/upload") != 0 {
		t.Fatalf("%d requests inside, %d uploads", hits.Load(), e.sim.Calls("media/upload"))
	}
}

// A preview downloads and uploads nothing, even from a URL a send may fetch: a media URL shows
// the placeholder, an upload its media_id while it is good and the placeholder once it has
// expired (a send would upload it again; a preview does not).
func TestRenderFetchesAndUploadsNothing(t *testing.T) {
	t.Parallel()
	files, hits := countingServer(t, "127.0.0.1:0", nil)
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	to := map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}
	body := func(source map[string]any) map[string]any {
		return map[string]any{"channel": "ops", "to": to, "msgtype": "image", "image": map[string]any{"media": source}}
	}
	mediaID := func(res response) any {
		b, _ := res.Data()["body"].(map[string]any)
		return b["media_id"]
	}
	out := e.must(200, "POST", "/api/v1/render", body(map[string]any{"url": files.URL + "/chart.png"}))
	if got := mediaID(out); got != "(uploaded when sent)" {
		t.Errorf("a URL's preview: media_id %v: %s", got, out.Body)
	}
	if hits.Load() != 0 || e.sim.Calls("media/upload") != 0 {
		t.Fatalf("a preview fetched %d times and uploaded %d times", hits.Load(), e.sim.Calls("media/upload"))
	}
	up := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops", "type": "image"}, "logo.png", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...))
	if up.Status != 201 {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	stored := body(map[string]any{"id": up.Data()["id"]})
	if got := mediaID(e.must(200, "POST", "/api/v1/render", stored)); got != up.Data()["mediaId"] {
		t.Errorf("an upload's preview: media_id %v, want %v", got, up.Data()["mediaId"])
	}
	e.clock.Advance(3 * 24 * time.Hour)
	if got := mediaID(e.must(200, "POST", "/api/v1/render", stored)); got != "(uploaded when sent)" {
		t.Errorf("an expired upload's preview: media_id %v", got)
	}
	if n := e.sim.Calls("media/upload"); n != 1 {
		t.Fatalf("media/upload called %d times, want 1 (the upload itself)", n)
	}
}
