package upstream

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/qsmo/qsmo/internal/pdns/upstream/upstreamtest"
)

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// gathered indexes a registry's output by metric name and upstream label
// (plus result for the counter).
func gathered(t *testing.T, reg *prometheus.Registry) map[string]*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.Metric)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			out[key] = m
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	good := upstreamtest.Start(t, upstreamtest.Config{})
	silent := upstreamtest.Start(t, upstreamtest.Config{})
	silent.SetMode(upstreamtest.Timeout)
	p := newPool(t, Options{Strategy: Sequential, TryTimeout: 50 * time.Millisecond, FailThreshold: 1},
		silent.UDPSpec(), good.UDPSpec())
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(p); err != nil {
		t.Fatalf("register: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := p.Resolve(ctx, www); err != nil {
		t.Fatal(err)
	}
	m := gathered(t, reg)

	g, s := good.UDPSpec(), silent.UDPSpec()
	checks := []struct {
		key  string
		want float64
		get  func(*dto.Metric) float64
	}{
		{"qsmo_dns_upstream_queries_total result=ok upstream=" + g, 1, counterOf},
		{"qsmo_dns_upstream_queries_total result=timeout upstream=" + s, 1, counterOf},
		{"qsmo_dns_upstream_queries_total result=forged upstream=" + g, 0, counterOf},
		{"qsmo_dns_upstream_queries_total result=truncated_retry upstream=" + g, 0, counterOf},
		{"qsmo_dns_upstream_latency_seconds upstream=" + g, 1, func(m *dto.Metric) float64 { return float64(m.GetHistogram().GetSampleCount()) }},
		{"qsmo_dns_upstream_latency_seconds upstream=" + s, 0, func(m *dto.Metric) float64 { return float64(m.GetHistogram().GetSampleCount()) }},
		{"qsmo_dns_upstream_healthy upstream=" + g, 1, gaugeOf},
		{"qsmo_dns_upstream_healthy upstream=" + s, 0, gaugeOf}, // threshold 1: down after its timeout
	}
	for _, c := range checks {
		metric, ok := m[c.key]
		if !ok {
			t.Errorf("missing series %s", c.key)
			continue
		}
		if got := c.get(metric); got != c.want {
			t.Errorf("%s = %v, want %v", c.key, got, c.want)
		}
	}
	// Bounded cardinality: per upstream, 7 results + 1 histogram + 1 gauge.
	if len(m) != 2*(int(numResults)+2) {
		t.Errorf("%d series, want %d", len(m), 2*(int(numResults)+2))
	}
}

func counterOf(m *dto.Metric) float64 { return m.GetCounter().GetValue() }
func gaugeOf(m *dto.Metric) float64   { return m.GetGauge().GetValue() }
