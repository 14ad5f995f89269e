package worker

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Descriptions of the worker's Prometheus metrics, per function and
// version (labels function, version).
var (
	descInvocations = prometheus.NewDesc("stoa_fn_invocations_total",
		"Invocations begun, by start: cold (waited for a new environment) or warm.", []string{"function", "version", "start"}, nil)
	descErrors = prometheus.NewDesc("stoa_fn_errors_total",
		"Invocations that failed: function errors, timeouts, crashes, throttles.", []string{"function", "version"}, nil)
	descEnvs = prometheus.NewDesc("stoa_fn_environments",
		"Execution environments now, by state: idle, or busy (starting or invoking).", []string{"function", "version", "state"}, nil)
	descEnvEvents = prometheus.NewDesc("stoa_fn_environment_events_total",
		"Environments started, pre-warmed, failed to start, discarded (crashed, timed out, out of memory) and reaped (idle).", []string{"function", "version", "event"}, nil)
	descThrottled = prometheus.NewDesc("stoa_fn_throttled_total",
		"Invocations that found every environment busy until their deadline.", []string{"function", "version"}, nil)
)

// Collector returns a Prometheus collector of the worker's counts (see
// Stats), labelled by function and version. Register it where the process
// serves /metrics.
func (w *Worker) Collector() prometheus.Collector { return collector{w} }

type collector struct{ w *Worker }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInvocations, descErrors, descEnvs, descEnvEvents, descThrottled} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.w.Stats() {
		v := strconv.Itoa(s.Version)
		counter := func(d *prometheus.Desc, n int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), append([]string{s.Function, v}, labels...)...)
		}
		counter(descInvocations, s.ColdStarts, "cold")
		counter(descInvocations, s.WarmStarts, "warm")
		counter(descErrors, s.Errors)
		counter(descThrottled, s.Throttled)
		for ev, n := range map[string]int64{"started": s.Started, "prewarmed": s.Prewarmed, "start_failed": s.StartErrors, "discarded": s.Discarded, "reaped": s.Reaped} {
			counter(descEnvEvents, n, ev)
		}
		ch <- prometheus.MustNewConstMetric(descEnvs, prometheus.GaugeValue, float64(s.Idle), s.Function, v, "idle")
		ch <- prometheus.MustNewConstMetric(descEnvs, prometheus.GaugeValue, float64(s.Envs-s.Idle), s.Function, v, "busy")
	}
}
