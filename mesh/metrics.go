package mesh

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a node's view of the mesh hop. Each pin's series are looked
// up once, when the pin is learned or served, not on every act.
type metrics struct {
	sent      *prometheus.CounterVec
	sentDur   *prometheus.HistogramVec
	served    *prometheus.CounterVec
	servedDur *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	providers *prometheus.GaugeVec
	nodes     prometheus.Gauge
	inFlight  prometheus.GaugeFunc
}

// hopBuckets spans a loopback hop (≈100 µs) to a slow handler (10 s).
var hopBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// newMetrics makes the node's metrics; serving is the count of acts the
// node is serving, which the stoa_mesh_serving gauge reads.
func newMetrics(node string, serving *atomic.Int64) *metrics {
	labels := prometheus.Labels{"node": node}
	return &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoa_mesh_acts_sent_total", ConstLabels: labels,
			Help: "Acts this node sent across the mesh, by pin and outcome (ok or the error code).",
		}, []string{"pin", "outcome"}),
		sentDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stoa_mesh_act_seconds", ConstLabels: labels, Buckets: hopBuckets,
			Help: "Round trip of acts this node sent across the mesh, from send to reply, by pin.",
		}, []string{"pin"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoa_mesh_acts_served_total", ConstLabels: labels,
			Help: "Acts this node served for other nodes, by pin and outcome (ok or the error code).",
		}, []string{"pin", "outcome"}),
		servedDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stoa_mesh_serve_seconds", ConstLabels: labels, Buckets: hopBuckets,
			Help: "Time this node took to serve acts from other nodes, by pin.",
		}, []string{"pin"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoa_mesh_retries_total", ConstLabels: labels,
			Help: "Acts on idempotent pins sent again because no reply came in time, by pin.",
		}, []string{"pin"}),
		providers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stoa_mesh_providers", ConstLabels: labels,
			Help: "Other nodes this node knows to serve each pin.",
		}, []string{"pin"}),
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stoa_mesh_nodes", ConstLabels: labels,
			Help: "Other Stoa nodes this node knows.",
		}),
		inFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "stoa_mesh_serving", ConstLabels: labels,
			Help: "Acts this node is serving for other nodes right now.",
		}, func() float64 { return float64(serving.Load()) }),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sent, m.sentDur, m.served, m.servedDur, m.retries, m.providers, m.nodes, m.inFlight}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range m.collectors() {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) unregister(r prometheus.Registerer) {
	for _, c := range m.collectors() {
		r.Unregister(c)
	}
}

// pinMetrics are one pin's series, resolved once.
type pinMetrics struct {
	ok       prometheus.Counter
	dur      prometheus.Observer
	retries  prometheus.Counter
	outcomes *prometheus.CounterVec
	pin      string
}

func (p *pinMetrics) fail(code string) { p.outcomes.WithLabelValues(p.pin, code).Inc() }

func (m *metrics) forSent(pin string) *pinMetrics {
	return &pinMetrics{ok: m.sent.WithLabelValues(pin, "ok"), dur: m.sentDur.WithLabelValues(pin),
		retries: m.retries.WithLabelValues(pin), outcomes: m.sent, pin: pin}
}

func (m *metrics) forServed(pin string) *pinMetrics {
	return &pinMetrics{ok: m.served.WithLabelValues(pin, "ok"), dur: m.servedDur.WithLabelValues(pin),
		outcomes: m.served, pin: pin}
}
