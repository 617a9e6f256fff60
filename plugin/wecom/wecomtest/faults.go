package wecomtest

import (
	"net"
	"net/http"
	"time"
)

// Fault is one way a call to an endpoint goes wrong. Without AfterProcessing the request is not
// processed when ErrCode, HTTPStatus or Reset is set; a Fault with only Latency delays a normal
// answer.
type Fault struct {
	// ErrCode answers HTTP 200 {"errcode":ErrCode,"errmsg":ErrMsg} (ErrMsg defaults to WeCom's text).
	ErrCode int
	ErrMsg  string
	// HTTPStatus answers this status with a short body, as WeCom's gateways do under load.
	HTTPStatus int
	// Latency sleeps (real time, ending early when the client gives up) before answering.
	Latency time.Duration
	// Reset hijacks the connection and closes it without answering.
	Reset bool
	// AfterProcessing processes the request normally (messages are delivered!) and then applies
	// Latency, Reset, HTTPStatus or ErrCode: the request was handled but the answer was lost or
	// spoiled, the failure a sender cannot tell apart from "not sent".
	AfterProcessing bool
}

type faultPlan struct {
	script []Fault
	rate   float64
	pool   []Fault
}

// Script queues faults for an endpoint (same names as Calls): each call consumes one, then normal
// behaviour resumes. Calling Script again appends.
func (s *Server) Script(endpoint string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan(endpoint)
	p.script = append(p.script, faults...)
}

// FailRate makes every call to an endpoint fail with probability rate, with one of faults picked
// at random (the seeded RNG); no faults means errcode -1 (system busy). Rate 0 turns it off. A
// scripted fault, while any is queued, takes precedence.
func (s *Server) FailRate(endpoint string, rate float64, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan(endpoint)
	p.rate = rate
	p.pool = append([]Fault(nil), faults...)
	if len(p.pool) == 0 {
		p.pool = []Fault{{ErrCode: codeSystemBusy}}
	}
}

func (s *Server) plan(endpoint string) *faultPlan {
	p := s.t.faults[endpoint]
	if p == nil {
		p = &faultPlan{}
		s.t.faults[endpoint] = p
	}
	return p
}

// countAndPickFault counts the call and decides, in one critical section, whether it faults.
func (s *Server) countAndPickFault(endpoint string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.calls[endpoint]++
	p := s.t.faults[endpoint]
	if p == nil {
		return Fault{}, false
	}
	if len(p.script) > 0 {
		f := p.script[0]
		p.script = p.script[1:]
		return f, f != Fault{}
	}
	if p.rate > 0 && s.rng.Float64() < p.rate {
		return p.pool[s.rng.IntN(len(p.pool))], true
	}
	return Fault{}, false
}

// answerFault writes the fault's answer and reports whether it did; false means the fault was
// latency only and the normal answer should follow.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch {
	case f.Reset:
		resetConnection(w)
		return true
	case f.HTTPStatus != 0:
		http.Error(w, http.StatusText(f.HTTPStatus), f.HTTPStatus)
		return true
	case f.ErrCode != 0:
		msg := f.ErrMsg
		if msg == "" {
			msg = s.errmsg(f.ErrCode, "", remoteIP(r))
		}
		writeJSON(w, apiError{ErrCode: f.ErrCode, ErrMsg: msg})
		return true
	}
	return false
}

// resetConnection closes the client's connection without a byte of answer. Hijacking lets us
// set SO_LINGER 0 so the client sees a reset, like a dropped NAT entry; where hijacking is not
// possible (HTTP/2) aborting the handler resets the stream instead.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// sleepCtx waits d unless the client goes away first; it reports whether the full wait elapsed.
func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
