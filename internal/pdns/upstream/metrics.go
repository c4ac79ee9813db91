package upstream

import (
	"github.com/prometheus/client_golang/prometheus"
)

// result is the outcome label of qsmo_dns_upstream_queries_total.
type result uint8

const (
	resultOK             result = iota // a verified answer other than SERVFAIL/REFUSED (NXDOMAIN included)
	resultServfail                     // a verified SERVFAIL
	resultRefused                      // a verified REFUSED
	resultTimeout                      // no verified answer before the try's deadline
	resultError                        // network, TLS, HTTP or parse failure
	resultForged                       // a packet ignored because it did not answer the query
	resultTruncatedRetry               // a truncated UDP answer retried over TCP
	numResults
)

var resultNames = [numResults]string{"ok", "servfail", "refused", "timeout", "error", "forged", "truncated_retry"}

// latencyBuckets span a loopback cache hit (sub-millisecond) to a slow
// recursion near the 1.8 s budget.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// metrics are per Pool rather than global so that several pools (tests,
// or one per role) never collide; the caller registers the Pool.
type metrics struct {
	latency *prometheus.HistogramVec
	queries *prometheus.CounterVec
	healthy *prometheus.Desc
}

func newMetrics() *metrics {
	return &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qsmo_dns_upstream_latency_seconds",
			Help:    "Time from sending a query to an upstream until its verified answer (including a TCP retry after truncation).",
			Buckets: latencyBuckets,
		}, []string{"upstream"}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qsmo_dns_upstream_queries_total",
			Help: "Tries sent to an upstream by outcome (ok, servfail, refused, timeout, error), plus ignored forged packets (forged) and truncated UDP answers retried over TCP (truncated_retry).",
		}, []string{"upstream", "result"}),
		healthy: prometheus.NewDesc(
			"qsmo_dns_upstream_healthy",
			"1 if the upstream is in service, 0 if marked down after consecutive failures.",
			[]string{"upstream"}, nil),
	}
}

// bind resolves u's series once, so that counting on the query path is an
// atomic add with no label lookup; it also makes every series visible at
// zero from the start.
func (m *metrics) bind(u *upstream) {
	u.latency = m.latency.WithLabelValues(u.name)
	for r := range numResults {
		u.results[r] = m.queries.WithLabelValues(u.name, resultNames[r])
	}
}

// Describe implements prometheus.Collector.
func (p *Pool) Describe(ch chan<- *prometheus.Desc) {
	p.metrics.latency.Describe(ch)
	p.metrics.queries.Describe(ch)
	ch <- p.metrics.healthy
}

// Collect implements prometheus.Collector. Health is read at collection
// time, so the gauge cannot drift from the state the pool acts on.
func (p *Pool) Collect(ch chan<- prometheus.Metric) {
	p.metrics.latency.Collect(ch)
	p.metrics.queries.Collect(ch)
	for _, u := range p.ups {
		v := 1.0
		if u.down.Load() {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(p.metrics.healthy, prometheus.GaugeValue, v, u.name)
	}
}
