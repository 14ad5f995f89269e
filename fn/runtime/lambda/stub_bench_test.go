package lambda

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInvokeStub is the yardstick for BenchmarkInvoke: the same
// unmodified aws-lambda-go echo binary, started as a plain child process
// (no sandbox, no limits, no log capture) against the least Runtime API
// that serves it, written with net/http. Its "idle" case, timed like
// provided-idle, is what any process runtime pays for this client on this
// machine; the difference to provided-idle is our runtime's own cost.
func BenchmarkInvokeStub(b *testing.B) {
	type invocation struct {
		event []byte
		reply chan []byte
	}
	next := make(chan invocation)
	parked := make(chan struct{}, 1)
	var current invocation
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		parked <- struct{}{}
		select {
		case inv := <-next:
			current = inv
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", "stub")
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:000000000000:function:stub")
			h.Set("Content-Type", "application/json")
			w.Write(inv.event)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		current.reply <- body
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	cmd := exec.Command(filepath.Join(echoBundle, "bootstrap"))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=stub"}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	reply := make(chan []byte, 1)
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		<-parked // the runtime waits in next, as provided-idle waits for it
		b.StartTimer()
		t0 := time.Now()
		next <- invocation{benchPayload, reply}
		out := <-reply
		samples = append(samples, time.Since(t0))
		if !bytes.Equal(out, benchPayload) {
			b.Fatalf("reply %q, want %q", out, benchPayload)
		}
	}
	reportPercentiles(b, samples)
}
