package stoahttp

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are one server's: each Server has its own registry, so that two
// servers in one process never collide and no global state is kept.
type metrics struct {
	acts     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	handler  http.Handler
}

func newMetrics() *metrics {
	m := &metrics{
		acts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoa_http_acts_total",
			Help: `Acts served over HTTP, by the pattern that answered ("(none)" if none did) and outcome ("ok" or the error code).`,
		}, []string{"pattern", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stoa_http_act_duration_seconds",
			Help:    "Time from a request's arrival to its reply being written, by pattern.",
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
	return m
}

func (m *metrics) observe(pattern, outcome string, d time.Duration) {
	m.acts.WithLabelValues(pattern, outcome).Inc()
	m.duration.WithLabelValues(pattern).Observe(d.Seconds())
}
