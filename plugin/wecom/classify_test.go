package wecom

import (
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
)

// 45009 waits a minute when it comes first, however many attempts went before (timeouts, -1 …);
// 45009s in a row wait 4, 16 minutes, then an hour; the attempts stay bounded.
func TestFrequencyLimitWaitsByTheRunOf45009s(t *testing.T) {
	freq := &APIError{Code: 45009, Msg: "api freq out of limit", API: "message/send"}
	for _, tc := range []struct {
		name     string
		prev     int64
		attempts int
		want     time.Duration
	}{
		{"first attempt", 0, 1, time.Minute},
		{"after three other failures", -1, 4, time.Minute},
		{"after a timeout", 0, 5, time.Minute},
		{"second in a row", 45009, 2, 4 * time.Minute},
		{"third in a row", 45009, 3, 16 * time.Minute},
		{"fourth in a row", 45009, 4, time.Hour},
		{"fifth in a row", 45009, 5, time.Hour},
	} {
		out := Classify(nil, freq, tc.prev, tc.attempts, time.Minute, DefaultRetryPolicy)
		if out.Status != models.RequestRetrying || out.Delay != tc.want {
			t.Errorf("%s: %s after %s, want retrying after %s", tc.name, out.Status, out.Delay, tc.want)
		}
	}
	out := Classify(nil, freq, 45009, DefaultRetryPolicy.MaxAttempts, time.Minute, DefaultRetryPolicy)
	if out.Status != models.RequestFailed || !strings.HasSuffix(out.Reason, "Gave up after 6 attempts.") {
		t.Errorf("the last attempt: %s %q", out.Status, out.Reason)
	}
}
