package wecomtest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upload posts a multipart body with one part; field "" means no part at all.
func (f *fixture) upload(t *testing.T, tok, typ, field, filename string, data []byte) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if field != "" {
		var w interface{ Write([]byte) (int, error) }
		var err error
		if filename != "" {
			w, err = mw.CreateFormFile(field, filename)
		} else {
			w, err = mw.CreateFormField(field)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/cgi-bin/media/upload?access_token="+tok+"&type="+typ, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMediaUpload(t *testing.T) {
	t.Parallel()
	const mb = 1 << 20
	amr := append([]byte("#!AMR\n"), make([]byte, 100)...)
	tests := []struct {
		name, typ, field, filename string
		size                       int
		data                       []byte
		want                       int
	}{
		{name: "image 6 bytes", typ: "image", field: "media", filename: "a.png", size: 6, want: 0},
		{name: "image 5 bytes", typ: "image", field: "media", filename: "a.png", size: 5, want: 40006},
		{name: "image at 5 MB", typ: "image", field: "media", filename: "a.png", size: 5 * mb, want: 0},
		{name: "image over 5 MB", typ: "image", field: "media", filename: "a.png", size: 5*mb + 1, want: 40006},
		{name: "voice over 2 MB", typ: "voice", field: "media", filename: "a.amr", size: 2*mb + 1, want: 40006},
		{name: "voice not AMR", typ: "voice", field: "media", filename: "a.mp3", size: 100, want: 301017},
		{name: "voice AMR", typ: "voice", field: "media", filename: "a.amr", data: amr, want: 0},
		{name: "file at 20 MB", typ: "file", field: "media", filename: "a.zip", size: 20 * mb, want: 0},
		{name: "unknown type", typ: "doc", field: "media", filename: "a.doc", size: 10, want: 40004},
		{name: "no media part", typ: "file", field: "other", filename: "a.txt", size: 10, want: 44001},
		{name: "media part without filename", typ: "file", field: "media", size: 10, want: 44001},
		{name: "no parts at all", typ: "file", size: 0, want: 44001},
	}
	f := newFixture(t)
	tok := f.token(t, testSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data
			if data == nil {
				data = bytes.Repeat([]byte{'x'}, tt.size)
			}
			m := f.upload(t, tok, tt.typ, tt.field, tt.filename, data)
			if got := errcode(m); got != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tt.want, m)
			}
			if tt.want == 0 && (m["type"] != tt.typ || m["media_id"] == "" || m["created_at"] != "1740967200") {
				t.Errorf("answer = %v", m)
			}
		})
	}
}

func TestMediaUseAndExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	img := f.upload(t, tok, "image", "media", "a.png", []byte("\x89PNG....."))["media_id"].(string)
	file := f.upload(t, tok, "file", "media", "a.pdf", []byte("%PDF-1.4"))["media_id"].(string)
	send := func(tok, msgtype, id string) int {
		return errcode(f.post(t, "message/send", tok, map[string]any{"touser": "alice", "msgtype": msgtype, "agentid": testAgent, msgtype: map[string]any{"media_id": id}}))
	}
	if got := send(tok, "image", img); got != 0 {
		t.Fatalf("image send: %d", got)
	}
	if got := send(tok, "image", file); got != 40007 {
		t.Errorf("a file media_id in an image message: %d, want 40007", got)
	}
	if got := send(tok, "file", ""); got != 41006 {
		t.Errorf("no media_id: %d, want 41006", got)
	}
	f.clock.Advance(72*time.Hour - time.Second)
	tok = f.token(t, testSecret)
	if got := send(tok, "file", file); got != 0 {
		t.Errorf("media just before 3 days: %d", got)
	}
	f.clock.Advance(time.Second)
	if got := send(tok, "file", file); got != 40007 {
		t.Errorf("media after 3 days: %d, want 40007", got)
	}
	if m := f.upload(t, f.token(t, contactsSec), "image", "media", "a.png", []byte("123456")); errcode(m) != 48002 {
		t.Errorf("contacts secret upload = %v", m)
	}
	// Media belong to their corp.
	f.sim.AddCorp(Corp{ID: "wwother", Name: "Other"})
	f.sim.AddApp("wwother", App{AgentID: 1, Secret: "s"})
	f.sim.AddUser("wwother", User{UserID: "zed", Departments: []int{1}})
	f.sim.AddDepartment("wwother", Department{ID: 1, Name: "Other"})
	other := f.do(t, http.MethodGet, "gettoken", map[string][]string{"corpid": {"wwother"}, "corpsecret": {"s"}}, nil)["access_token"].(string)
	m := f.post(t, "message/send", other, map[string]any{"touser": "zed", "msgtype": "image", "agentid": 1, "image": map[string]any{"media_id": img}})
	if errcode(m) != 40007 || !strings.Contains(m["errmsg"].(string), "unknown") {
		t.Errorf("another corp's media = %v", m)
	}
}
