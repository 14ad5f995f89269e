package lambda

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoaproject/stoa/internal/lambdastub"
)

// BenchmarkInvokeStub is the yardstick for BenchmarkInvoke: the same
// unmodified aws-lambda-go echo binary, started as a plain child process
// (no sandbox, no limits, no log capture) against the least Runtime API
// that serves it (internal/lambdastub). Timed like provided-idle, it is
// what any process runtime pays for this client on this machine; the
// difference to provided-idle is our runtime's own cost.
func BenchmarkInvokeStub(b *testing.B) {
	s, err := lambdastub.Start(filepath.Join(echoBundle, "bootstrap"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := b.Context()
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := s.WaitParked(ctx); err != nil { // as provided-idle waits for it
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		out, err := s.Invoke(ctx, benchPayload)
		samples = append(samples, time.Since(t0))
		if err != nil || !bytes.Equal(out, benchPayload) {
			b.Fatalf("Invoke = %q, %v; want %q", out, err, benchPayload)
		}
	}
	reportPercentiles(b, samples)
}
