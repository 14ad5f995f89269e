package stoahttp

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// metrics are one server's: each Server has its own registry, so that two
// servers in one process never collide and no global state is kept.
type metrics struct {
	acts     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	handler  http.Handler            // for ServeHTTP
	fast     fasthttp.RequestHandler // the same, for Serve
	ok       sync.Map                // pattern → *patternMetrics, for the common outcome
}

// patternMetrics are the series of one pattern's successful acts, looked
// up once rather than by label values on every act.
type patternMetrics struct {
	acts     prometheus.Counter
	duration prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		acts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoa_http_acts_total",
			Help: `Acts served over HTTP, by the pattern that answered ("(none)" if none did) and outcome ("ok" or the error code).`,
		}, []string{"pattern", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stoa_http_act_duration_seconds",
			Help:    "Time from a request's arrival to its reply being ready to write, by pattern.",
			Buckets: prometheus.ExponentialBucketsRange(0.0001, 30, 14),
		}, []string{"pattern"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stoa_http_acts_in_flight",
			Help: "Acts being served over HTTP now.",
		}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.acts, m.duration, m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	m.fast = fasthttpadaptor.NewFastHTTPHandler(m.handler)
	return m
}

func (m *metrics) observe(pattern, outcome string, d time.Duration) {
	if outcome != "ok" {
		m.acts.WithLabelValues(pattern, outcome).Inc()
		m.duration.WithLabelValues(pattern).Observe(d.Seconds())
		return
	}
	pm, ok := m.ok.Load(pattern)
	if !ok {
		pm, _ = m.ok.LoadOrStore(pattern, &patternMetrics{
			acts:     m.acts.WithLabelValues(pattern, outcome),
			duration: m.duration.WithLabelValues(pattern),
		})
	}
	p := pm.(*patternMetrics)
	p.acts.Inc()
	p.duration.Observe(d.Seconds())
}
