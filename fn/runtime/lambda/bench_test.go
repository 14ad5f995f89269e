package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
)

var benchPayload = []byte(`{"hello":"world","n":42}`)

// echoHandler is the handler of testdata/fn/echo, called in process as the
// floor the process runtime is measured against.
func echoHandler(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil }

// reportPercentiles adds p50 and p99 of the samples (µs) to the benchmark.
func reportPercentiles(b *testing.B, samples []time.Duration) {
	b.Helper()
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(p float64) float64 { return float64(samples[int(float64(len(samples)-1)*p)]) / 1e3 }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkInvoke compares a warm invocation of the aws-lambda-go echo
// function through its environment with the same handler called in
// process through aws-lambda-go's own handler wrapper (the floor).
func BenchmarkInvoke(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		h := awslambda.NewHandler(echoHandler)
		ctx := context.Background()
		samples := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			out, err := h.Invoke(ctx, benchPayload)
			samples = append(samples, time.Since(t0))
			if err != nil || !bytes.Equal(out, benchPayload) {
				b.Fatalf("Invoke = %q, %v", out, err)
			}
		}
		reportPercentiles(b, samples)
	})
	b.Run("provided-warm", func(b *testing.B) {
		e, err := Start(b.Context(), Config{Bundle: echoBundle, Dir: testDir})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		ctx := b.Context()
		if _, err := e.Invoke(ctx, benchPayload, InvokeOpts{}); err != nil { // the cold one
			b.Fatal(err)
		}
		samples := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			res, err := e.Invoke(ctx, benchPayload, InvokeOpts{})
			samples = append(samples, time.Since(t0))
			if err != nil || !bytes.Equal(res.Payload, benchPayload) {
				b.Fatalf("Invoke = %v, %v", res, err)
			}
		}
		reportPercentiles(b, samples)
	})
	// provided-idle waits, with the timer stopped, until the runtime is
	// parked in "next" again: the latency of a warm environment that sat
	// idle, without the runtime's own turnaround after the previous answer.
	// provided-idle-gomaxprocs1 is the same function with GOMAXPROCS=1 in
	// its environment: aws-lambda-go's client hands each request between
	// goroutines on several threads, and one P saves those wake-ups.
	for _, v := range []struct {
		name string
		env  map[string]string
	}{{"provided-idle", nil}, {"provided-idle-gomaxprocs1", map[string]string{"GOMAXPROCS": "1"}}} {
		b.Run(v.name, func(b *testing.B) {
			e, err := Start(b.Context(), Config{Bundle: echoBundle, Dir: testDir, Env: v.env})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ctx := b.Context()
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				e.waitParked()
				b.StartTimer()
				t0 := time.Now()
				res, err := e.Invoke(ctx, benchPayload, InvokeOpts{})
				samples = append(samples, time.Since(t0))
				if err != nil || !bytes.Equal(res.Payload, benchPayload) {
					b.Fatalf("Invoke = %v, %v", res, err)
				}
			}
			reportPercentiles(b, samples)
		})
	}
}

// BenchmarkColdStart times a cold start: Start (copy the bundle, claim a
// sandbox, spawn, init) plus the first invocation, as a caller with no warm
// environment sees it. Between iterations, with the timer stopped, the
// spare sandbox is refilled as it is in steady state (see RATIONALE.md);
// "provided-nospare" makes the sandbox inside the timed region instead.
// Close is left out of the time.
func BenchmarkColdStart(b *testing.B) {
	for _, c := range []struct {
		name  string
		spare bool
		cfg   Config
	}{
		{"provided", true, Config{Bundle: echoBundle}},
		{"provided-nospare", false, Config{Bundle: echoBundle}},
		{"node", true, Config{Bundle: nodeBundle, Runtime: RuntimeNode, Handler: "handlers.async"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if c.cfg.Runtime == RuntimeNode {
				needNode(b)
			}
			cfg := c.cfg
			cfg.Dir = testDir
			if c.spare {
				defer HoldSpare(cfg.Dir, DefaultTmpMB)()
			}
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				if c.spare {
					waitSpare(cfg.Dir, DefaultTmpMB)
				} else if st := takeSpare(spareKey{cfg.Dir, DefaultTmpMB}); st != nil {
					st.release()
				}
				b.StartTimer()
				t0 := time.Now()
				e, err := Start(b.Context(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				res, err := e.Invoke(b.Context(), benchPayload, InvokeOpts{})
				samples = append(samples, time.Since(t0))
				if err != nil || !res.Cold {
					b.Fatalf("Invoke = %+v, %v", res, err)
				}
				b.StopTimer()
				e.Close()
				b.StartTimer()
			}
			reportPercentiles(b, samples)
		})
	}
}
