package wecomtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// rawSend posts a text message and returns the HTTP outcome without failing on errors.
func (f *fixture) rawSend(ctx context.Context, tok, touser, content string) (int, map[string]any, error) {
	b, _ := json.Marshal(text(testAgent, touser, content))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+"/cgi-bin/message/send?access_token="+tok, bytes.NewReader(b))
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, nil
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		fault         Fault
		ctxTimeout    time.Duration
		wantStatus    int
		wantErrcode   int
		wantClientErr bool
		wantDelivered bool
	}{
		{name: "scripted errcode", fault: Fault{ErrCode: -1}, wantStatus: 200, wantErrcode: -1},
		{name: "scripted errcode with message", fault: Fault{ErrCode: 45033, ErrMsg: "api concurrent out of limit"}, wantStatus: 200, wantErrcode: 45033},
		{name: "HTTP 503", fault: Fault{HTTPStatus: 503}, wantStatus: 503},
		{name: "connection reset", fault: Fault{Reset: true}, wantClientErr: true},
		{name: "latency beyond the client's patience", fault: Fault{Latency: 10 * time.Second}, ctxTimeout: 100 * time.Millisecond, wantClientErr: true},
		{name: "latency within the client's patience", fault: Fault{Latency: 10 * time.Millisecond}, wantStatus: 200, wantDelivered: true},
		{name: "delivered then reset", fault: Fault{AfterProcessing: true, Reset: true}, wantClientErr: true, wantDelivered: true},
		{name: "delivered then 502", fault: Fault{AfterProcessing: true, HTTPStatus: 502}, wantStatus: 502, wantDelivered: true},
		{name: "delivered then system busy", fault: Fault{AfterProcessing: true, ErrCode: -1}, wantStatus: 200, wantErrcode: -1, wantDelivered: true},
		{name: "delivered then too slow", fault: Fault{AfterProcessing: true, Latency: 10 * time.Second}, ctxTimeout: 100 * time.Millisecond, wantClientErr: true, wantDelivered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tok := f.token(t, testSecret)
			f.sim.Script("message/send", tt.fault)
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			status, m, err := f.rawSend(ctx, tok, "alice", "faulted")
			switch {
			case tt.wantClientErr && err == nil:
				t.Fatalf("client saw HTTP %d %v, want an error", status, m)
			case !tt.wantClientErr && err != nil:
				t.Fatalf("client error %v", err)
			case !tt.wantClientErr && (status != tt.wantStatus || (status == 200 && errcode(m) != tt.wantErrcode)):
				t.Fatalf("answer HTTP %d %v, want %d errcode %d", status, m, tt.wantStatus, tt.wantErrcode)
			}
			if tt.ctxTimeout > 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want the client's deadline", err)
			}
			// The script is consumed: the next call is normal.
			if _, m, err := f.rawSend(context.Background(), tok, "bob", "after"); err != nil || errcode(m) != 0 {
				t.Errorf("call after the script: %v %v", m, err)
			}
			// Close waits for every handler, so a request still sleeping after its client gave up
			// would show here (slowly) as a late delivery.
			f.srv.Close()
			if got := len(f.sim.Inbox(testCorp, "alice")) == 1; got != tt.wantDelivered {
				t.Errorf("delivered = %v, want %v", got, tt.wantDelivered)
			}
			if n := f.sim.Calls("message/send"); n != 2 {
				t.Errorf("Calls = %d, want 2 (faulted calls count)", n)
			}
		})
	}
}

func TestScriptSequenceAndFailRate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.Script("gettoken", Fault{ErrCode: -1}, Fault{}, Fault{HTTPStatus: 500})
	get := func() (int, int) {
		resp, err := f.srv.Client().Get(f.srv.URL + "/cgi-bin/gettoken?corpid=" + testCorp + "&corpsecret=" + testSecret)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, errcode(m)
	}
	for i, want := range [][2]int{{200, -1}, {200, 0}, {500, 0}, {200, 0}} {
		if s, c := get(); s != want[0] || c != want[1] {
			t.Errorf("call %d: HTTP %d errcode %d, want %v", i, s, c, want)
		}
	}

	// A fail rate draws from the seeded RNG: two simulators with the same seed fail alike.
	pattern := func() []bool {
		g := newFixture(t)
		tok := g.token(t, testSecret)
		g.sim.FailRate("message/send", 0.5)
		var out []bool
		for range 40 {
			_, m, err := g.rawSend(context.Background(), tok, "alice", "x")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, errcode(m) == -1)
		}
		return out
	}
	a, b := pattern(), pattern()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different failures at call %d", i)
		}
		if a[i] {
			fails++
		}
	}
	if fails < 8 || fails > 32 {
		t.Errorf("%d of 40 failed at rate 0.5", fails)
	}

	f.sim.FailRate("message/send", 1, Fault{ErrCode: 45033})
	tok := f.token(t, testSecret)
	if _, m, _ := f.rawSend(context.Background(), tok, "alice", "x"); errcode(m) != 45033 {
		t.Errorf("rate 1 = %v", m)
	}
	f.sim.Reset()
	if _, m, _ := f.rawSend(context.Background(), tok, "alice", "x"); errcode(m) != 0 {
		t.Errorf("after Reset (token kept, faults gone) = %v", m)
	}
	if f.sim.Calls("message/send") != 1 || len(f.sim.Inbox(testCorp, "alice")) != 1 {
		t.Errorf("Reset did not clear counters and inboxes")
	}
}
