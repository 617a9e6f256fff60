package server

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are this server's Prometheus collectors, on a registry of its own so two servers in
// one test process do not collide.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	sends      *prometheus.CounterVec
	tokens     *prometheus.CounterVec
	callbacks  *prometheus.CounterVec
	events     *prometheus.CounterVec
	syncs      *prometheus.HistogramVec
	executions *prometheus.CounterVec
	refusals   *prometheus.CounterVec
}

// queueDepth reports the unfinished outbox requests by status, counted in the database at scrape
// time so every instance reports the same, true number.
type queueDepth struct {
	desc  *prometheus.Desc
	count func() (map[string]int64, error)
}

func (q queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q queueDepth) Collect(ch chan<- prometheus.Metric) {
	counts, err := q.count()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), status)
	}
}

func (m *metrics) withQueueDepth(count func() (map[string]int64, error)) {
	m.reg.MustRegister(queueDepth{count: count, desc: prometheus.NewDesc("wecomflow_outbox_requests",
		"Outbox requests not yet finished, by status (pending: due; waiting: scheduled or paced to later; retrying; sending).", []string{"status"}, nil)})
}

func newMetrics(version, commit string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wecomflow_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wecomflow_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wecomflow_send_attempts_total", Help: "WeCom send attempts by resulting request status and errcode.",
	}, []string{"status", "errcode"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wecomflow_token_fetches_total", Help: "WeCom gettoken calls by result.",
	}, []string{"result"})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wecomflow_callbacks_total", Help: "Calls to the callback URLs by kind (app, contacts) and answered status.",
	}, []string{"kind", "status"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wecomflow_callback_events_processed_total", Help: "Callback event processing attempts by resulting status.",
	}, []string{"status"})
	m.syncs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wecomflow_sync_duration_seconds", Help: "Full directory sync durations by resulting status.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 900},
	}, []string{"status"})
	m.executions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wecomflow_executions_finished_total", Help: "Workflow executions finished, by status.",
	}, []string{"status"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wecomflow_webhook_refusals_total", Help: "Webhook calls refused (401), by workflow id and the header at fault.",
	}, []string{"workflow_id", "header"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wecomflow_build_info", Help: "Always 1; the labels say which build runs.",
	}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(version, commit, runtime.Version()).Set(1)
	m.reg.MustRegister(build, m.requests, m.duration, m.sends, m.tokens, m.callbacks, m.events, m.syncs, m.executions, m.refusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeHTTP(method, route string, status int, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// methodLabel is the method a request is counted under: any token is a valid method to HTTP, and
// a label per invented one would grow the page without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

func (m *metrics) observeSend(status string, errcode int64) {
	m.sends.WithLabelValues(status, strconv.FormatInt(errcode, 10)).Inc()
}

func (m *metrics) observeCallback(kind string, status int) {
	m.callbacks.WithLabelValues(kind, strconv.Itoa(status)).Inc()
}

func (m *metrics) observeSync(status string, d time.Duration) {
	m.syncs.WithLabelValues(status).Observe(d.Seconds())
}

func (m *metrics) observeEvent(status string) { m.events.WithLabelValues(status).Inc() }

func (m *metrics) observeExecution(status string) { m.executions.WithLabelValues(status).Inc() }

// observeWebhookRefusal counts by workflow id, not key: a key is whatever a caller puts in the
// URL, while ids exist only for stored workflows; the header is one of the contract's names.
func (m *metrics) observeWebhookRefusal(workflowID uint64, header string) {
	m.refusals.WithLabelValues(strconv.FormatUint(workflowID, 10), header).Inc()
}

func (m *metrics) observeTokenFetch(_ uint64, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tokens.WithLabelValues(result).Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
