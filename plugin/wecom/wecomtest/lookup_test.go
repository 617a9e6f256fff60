package wecomtest

import (
	"testing"
	"time"
)

const externalSec = "external-contact-secret"

func TestLookups(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddUser(testCorp, User{UserID: "gina", Departments: []int{3}, Mobile: "13800000007", Email: "gina@home.test", BizMail: "Gina@corp.test"})
	f.sim.AddUser(testCorp, User{UserID: "hank", Departments: []int{3}, Mobile: "13800000008", Status: 5})
	f.sim.AddApp(testCorp, App{Secret: externalSec, ExternalContactSecret: true})
	tests := []struct {
		name, secret, endpoint string
		body                   any
		want                   int
		userid                 string
	}{
		{"mobile", testSecret, "user/getuserid", map[string]any{"mobile": "13800000001"}, 0, "alice"},
		{"mobile with the contacts secret", contactsSec, "user/getuserid", map[string]any{"mobile": "13800000007"}, 0, "gina"},
		{"unknown mobile", testSecret, "user/getuserid", map[string]any{"mobile": "13999999999"}, 46004, ""},
		{"departed member's mobile", testSecret, "user/getuserid", map[string]any{"mobile": "13800000008"}, 46004, ""},
		{"mobile of 4 bytes", testSecret, "user/getuserid", map[string]any{"mobile": "1380"}, 60103, ""},
		{"no mobile", testSecret, "user/getuserid", map[string]any{}, 60103, ""},
		{"member outside the app's range", rdSecret, "user/getuserid", map[string]any{"mobile": "13800000007"}, 60011, ""},
		{"not json", testSecret, "user/getuserid", "{", 47001, ""},
		{"the 客户联系 secret", externalSec, "user/getuserid", map[string]any{"mobile": "13800000001"}, 48002, ""},
		{"enterprise email (default type)", testSecret, "user/get_userid_by_email", map[string]any{"email": "gina@CORP.test"}, 0, "gina"},
		{"enterprise email, type 1", testSecret, "user/get_userid_by_email", map[string]any{"email": "gina@corp.test", "email_type": 1}, 0, "gina"},
		{"personal email as enterprise", testSecret, "user/get_userid_by_email", map[string]any{"email": "gina@home.test", "email_type": 1}, 46004, ""},
		{"personal email, type 2", testSecret, "user/get_userid_by_email", map[string]any{"email": "gina@home.test", "email_type": 2}, 0, "gina"},
		{"email type 3", testSecret, "user/get_userid_by_email", map[string]any{"email": "gina@home.test", "email_type": 3}, 40058, ""},
		{"not an email", testSecret, "user/get_userid_by_email", map[string]any{"email": "gina"}, 60105, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.post(t, tt.endpoint, f.token(t, tt.secret), tt.body)
			if errcode(m) != tt.want || (tt.want == 0 && m["userid"] != tt.userid) {
				t.Errorf("answer %v, want errcode %d userid %q", m, tt.want, tt.userid)
			}
		})
	}
	// Failures counted: 46004 ×3, 60103 ×2, 60011, 60105; not 47001, 48002 or 40058.
	if n := f.sim.LookupFailures(testCorp); n != 7 {
		t.Errorf("LookupFailures = %d, want 7", n)
	}
}

func TestLookupBlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddCorp(Corp{ID: testCorp, Name: "Test", Seats: 10}) // 20% of 10: two failures are tolerated
	tok := f.token(t, testSecret)
	lookup := func(mobile string) int {
		return errcode(f.post(t, "user/getuserid", tok, map[string]any{"mobile": mobile}))
	}
	for i, want := range []int{46004, 46004, 0, 46004, 45009} {
		mobile := "13999999999"
		if want == 0 {
			mobile = "13800000001"
		}
		if i == 4 {
			mobile = "13800000001" // blocked: even a mobile that exists
		}
		if got := lookup(mobile); got != want {
			t.Fatalf("call %d: errcode %d, want %d", i+1, got, want)
		}
	}
	if m := f.post(t, "user/get_userid_by_email", tok, map[string]any{"email": "x@corp.test"}); errcode(m) != 45009 {
		t.Errorf("email lookups share the block: %v", m)
	}
	// Until the next China midnight (start is 10:00 CST).
	f.clock.Advance(13*time.Hour + 59*time.Minute)
	tok = f.token(t, testSecret)
	if got := lookup("13800000001"); got != 45009 {
		t.Errorf("23:59: %d, want 45009", got)
	}
	f.clock.Advance(time.Minute)
	if got := lookup("13800000001"); got != 0 {
		t.Errorf("next day: %d", got)
	}
	f.sim.Reset()
	if n := f.sim.LookupFailures(testCorp); n != 0 {
		t.Errorf("Reset kept %d failures", n)
	}
}
