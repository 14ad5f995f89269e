package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Route labels of requests no route took.
const (
	labelNoRoute = "(none)" // 404, 405, and requests refused before routing
	labelAPI     = "(api)"  // the management API
)

// metrics are one server's, in its registry (Server.Metrics, or one of its
// own), so that two servers in one process never collide.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	routes    prometheus.Gauge
	conflicts prometheus.Gauge
	handler   http.Handler
	series    sync.Map // routeStatus → *series, looked up once per pair
}

type routeStatus struct {
	route  string
	status int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoa_gateway_requests_total",
			Help: `Requests answered, by route key ("(none)" when no route took it, "(api)" for the management API) and HTTP status.`,
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stoa_gateway_request_duration_seconds",
			Help:    "Time from a request's arrival to its reply being written, by route key.",
			Buckets: prometheus.ExponentialBucketsRange(0.0001, 30, 14),
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stoa_gateway_requests_in_flight",
			Help: "Requests being served now.",
		}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stoa_gateway_routes",
			Help: "Routes in effect.",
		}),
		conflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stoa_gateway_route_conflicts",
			Help: "Routes left out because another route holds their key or shape (GET /_stoa/api/v1/routes lists them).",
		}),
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.routes, m.conflicts)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	k := routeStatus{route, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}
