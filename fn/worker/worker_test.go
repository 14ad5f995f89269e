package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// harness is a NATS server with JetStream, a fake registry, and a caller
// engine on the mesh.
type harness struct {
	t    *testing.T
	srv  *server.Server
	reg  *fakeRegistry
	js   jetstream.JetStream
	node *mesh.Node
	e    *stoa.Engine
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s := natstest.Server(t, func(o *server.Options) { o.JetStream, o.StoreDir = true, t.TempDir() })
	h := &harness{t: t, srv: s, reg: newFakeRegistry()}
	nc := h.conn("test-caller")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	h.js = js
	h.e = stoa.New(stoa.WithTimeout(30 * time.Second))
	t.Cleanup(func() { h.e.Close(context.Background()) })
	h.node, err = mesh.Join(t.Context(), h.e, mesh.WithConn(nc), mesh.WithDiscoveryWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.node.Close(context.Background()) })
	return h
}

// conn connects to the harness's server with the mesh's settings.
func (h *harness) conn(name string) *nats.Conn {
	h.t.Helper()
	opts, err := mesh.Options(name, mesh.Auth{})
	if err != nil {
		h.t.Fatal(err)
	}
	nc, err := nats.Connect(h.srv.ClientURL(), opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(nc.Close)
	return nc
}

// worker starts a worker on its own connection, after edit changes its
// fields, and waits until the caller knows it serves fn:*.
func (h *harness) worker(edit func(*worker.Worker)) *worker.Worker {
	h.t.Helper()
	w := &worker.Worker{Conn: h.conn("test-worker"), Registry: h.reg, Dir: h.t.TempDir(), EnvDir: envDir}
	if edit != nil {
		edit(w)
	}
	if err := w.Start(h.t.Context()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			h.t.Errorf("worker shutdown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(h.t.Context(), 10*time.Second)
	defer cancel()
	if err := h.node.WaitFor(ctx, worker.Pattern, 1); err != nil {
		h.t.Fatal(err)
	}
	return w
}

// echoReply is the echo function's answer.
type echoReply struct {
	Tag   string          `json:"tag"`
	Event json.RawMessage `json:"event"`
}

// invoke acts msg on the caller engine and decodes the echo function's reply.
func (h *harness) invoke(ctx context.Context, msg any) (worker.Reply, echoReply, error) {
	r, err := stoa.Call[worker.Reply](ctx, h.e, msg)
	if err != nil {
		return r, echoReply{}, err
	}
	var er echoReply
	if err := json.Unmarshal(r.Payload, &er); err != nil {
		return r, er, fmt.Errorf("reply payload %s: %v", r.Payload, err)
	}
	return r, er, nil
}

// stats returns the worker's counts for one version.
func stats(w *worker.Worker, name string, version int) worker.PoolStats {
	for _, s := range w.Stats() {
		if s.Function == name && s.Version == version {
			return s
		}
	}
	return worker.PoolStats{Function: name, Version: version}
}

// waitStats waits until cond holds for the version's counts, each change
// of the worker's pools waking it.
func waitStats(t *testing.T, w *worker.Worker, name string, version int, what string, cond func(worker.PoolStats) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		ch := w.Changed()
		s := stats(w, name, version)
		if cond(s) {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("%s:%d: %s: not after 10 s; counts %+v", name, version, what, s)
		}
	}
}

func TestInvokeThroughMesh(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{Runtime: fn.RuntimeProvided})
	w := h.worker(nil)
	for i, want := range []struct{ cold bool }{{true}, {false}, {false}} {
		r, er, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"i": i}})
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		if r.Version != 1 || er.Tag != "one" || string(er.Event) != fmt.Sprintf(`{"i":%d}`, i) || r.RequestID == "" {
			t.Errorf("invoke %d: reply %+v, payload %s; want version 1, tag one, event {\"i\":%d}, a request id", i, r, r.Payload, i)
		}
		if r.Cold != want.cold {
			t.Errorf("invoke %d: cold = %v, want %v", i, r.Cold, want.cold)
		}
	}
	s := stats(w, "echo", 1)
	if s.Invocations != 3 || s.ColdStarts != 1 || s.WarmStarts != 2 || s.Envs != 1 || s.Started != 1 {
		t.Errorf("counts %+v, want 3 invocations, 1 cold, 2 warm, 1 environment", s)
	}
}

func TestQualifiers(t *testing.T) {
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	h.reg.put("echo", bundleTwo, fn.Config{})
	h.reg.alias("echo", "prod", 1)
	h.worker(nil)
	for _, c := range []struct {
		msg     string
		version int
		tag     string
		code    string
	}{
		{msg: `{"fn":"echo"}`, version: 2, tag: "two"},
		{msg: `{"fn":"echo","qualifier":"latest"}`, version: 2, tag: "two"},
		{msg: `{"fn":"echo","qualifier":"1"}`, version: 1, tag: "one"},
		{msg: `{"fn":"echo","qualifier":2}`, version: 2, tag: "two"},
		{msg: `{"fn":"echo","qualifier":"prod"}`, version: 1, tag: "one"},
		{msg: `fn:echo,qualifier:prod`, version: 1, tag: "one"},
		{msg: `{"fn":"echo","qualifier":"staging"}`, code: fn.CodeAliasNotFound},
		{msg: `{"fn":"echo","qualifier":"9"}`, code: fn.CodeVersionNotFound},
		{msg: `{"fn":"nope"}`, code: fn.CodeNotFound},
		{msg: `{"fn":"echo","qualifier":true}`, code: stoa.CodeInvalidMsg},
		{msg: `{"fn":7}`, code: stoa.CodeInvalidMsg},
	} {
		var msg any = json.RawMessage(c.msg)
		if !strings.HasPrefix(c.msg, "{") {
			msg = c.msg
		}
		r, er, err := h.invoke(t.Context(), msg)
		if c.code != "" {
			var se *stoa.Error
			if !errors.As(err, &se) || se.Code != c.code {
				t.Errorf("%s: error %v, want code %s", c.msg, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.msg, err)
			continue
		}
		if r.Version != c.version || er.Tag != c.tag {
			t.Errorf("%s: version %d tag %q, want %d %q", c.msg, r.Version, er.Tag, c.version, c.tag)
		}
	}
}

// TestFailures checks that each way a function fails reaches the caller
// with its code and Lambda's error body, that a broken environment is
// discarded, and that the next invocation succeeds.
func TestFailures(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{Timeout: fn.Duration(time.Second)})
	w := h.worker(nil)
	for _, c := range []struct {
		name      string
		payload   string
		code      string
		errorType string
		message   string // in the error's message
		discarded bool
	}{
		{"error", `{"fail":"no cheese"}`, worker.CodeFunctionError, "errorString", "no cheese", false},
		{"crash", `{"crash":true}`, lambda.CodeExited, "Runtime.ExitError", "exit", true},
		{"timeout", `{"sleep":3000}`, lambda.CodeTimeout, "Sandbox.Timedout", "Task timed out after 1.00 seconds", true},
	} {
		before := stats(w, "echo", 1)
		_, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": json.RawMessage(c.payload)})
		var se *stoa.Error
		if !errors.As(err, &se) || se.Code != c.code {
			t.Errorf("%s: error %v, want code %s", c.name, err, c.code)
			continue
		}
		if got := se.Details["errorType"]; got != c.errorType {
			t.Errorf("%s: errorType %v, want %s (details %v)", c.name, got, c.errorType, se.Details)
		}
		if !strings.Contains(se.Message, c.message) || !strings.HasPrefix(se.Message, "echo:1: ") {
			t.Errorf("%s: message %q, want it to start echo:1: and contain %q", c.name, se.Message, c.message)
		}
		if se.Details["payload"] == nil {
			t.Errorf("%s: no error body in the details %v", c.name, se.Details)
		}
		r, er, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"after": c.name}})
		if err != nil || er.Tag != "one" {
			t.Errorf("%s: the next invocation: %+v, %v; want a reply", c.name, r, err)
		}
		after := stats(w, "echo", 1)
		if got := after.Discarded - before.Discarded; got != map[bool]int64{true: 1}[c.discarded] {
			t.Errorf("%s: %d environments discarded, want discarded=%v", c.name, got, c.discarded)
		}
	}
}

func TestRequestTooLarge(t *testing.T) {
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	w := h.worker(nil)
	str := func(n int) []byte { // a JSON string of n bytes
		b := make([]byte, n)
		for i := range b {
			b[i] = 'x'
		}
		b[0], b[n-1] = '"', '"'
		return b
	}
	big := str(lambda.MaxPayload + 1)
	_, err := w.Invoke(t.Context(), worker.Request{Fn: "echo", Payload: big})
	if !errors.Is(err, &stoa.Error{Code: lambda.CodeRequestTooLarge}) {
		t.Fatalf("payload of %d bytes: %v, want %s", len(big), err, lambda.CodeRequestTooLarge)
	}
	if s := stats(w, "echo", 1); s.Started != 0 {
		t.Errorf("an environment started for a payload refused: %+v", s)
	}
	// The echo answers the event with 30 bytes around it: keep under the
	// response cap too.
	if _, err := w.Invoke(t.Context(), worker.Request{Fn: "echo", Payload: str(lambda.MaxPayload - 100)}); err != nil {
		t.Errorf("payload under the cap: %v", err)
	}
}

// TestConcurrency checks the cap: at most Concurrency environments, the
// other invocations waiting for one, and a throttle error for one whose
// deadline comes first.
func TestConcurrency(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{Concurrency: 2})
	w := h.worker(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Go(func() {
			if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"sleep": 50, "i": i}}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := stats(w, "echo", 1)
	if s.Started > 2 || s.Invocations != 6 || s.Waited == 0 {
		t.Errorf("counts %+v, want at most 2 started, 6 invocations, some waiting", s)
	}

	// Both environments busy for 2 s: an act with 200 ms left is throttled.
	var slow sync.WaitGroup
	for range 2 {
		slow.Go(func() { h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"sleep": 2000}}) })
	}
	waitStats(t, w, "echo", 1, "both environments busy", func(s worker.PoolStats) bool { return s.Envs == 2 && s.Idle == 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := w.Invoke(ctx, worker.Request{Fn: "echo"})
	if !errors.Is(err, worker.ErrThrottled) {
		t.Errorf("invoke with every environment busy: %v, want %s", err, worker.CodeThrottled)
	}
	slow.Wait()
}

// TestScaleToZero checks that idle environments are closed after the idle
// timeout, their processes gone, and that the next invocation starts cold.
func TestScaleToZero(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	name := "idle" + fmt.Sprint(os.Getpid())
	h.reg.put(name, bundleOne, fn.Config{})
	// Long enough for the /proc scan below to see the warm process under load.
	w := h.worker(func(w *worker.Worker) { w.IdleTimeout = time.Second })
	r, _, err := h.invoke(t.Context(), stoa.Msg{"fn": name})
	if err != nil || !r.Cold {
		t.Fatalf("first invoke: %+v, %v; want a cold reply", r, err)
	}
	root := os.Geteuid() == 0
	if root && functionProcs(name) == 0 {
		t.Errorf("no process runs %s while its environment is warm", name)
	}
	waitStats(t, w, name, 1, "reaped", func(s worker.PoolStats) bool { return s.Envs == 0 && s.Reaped == 1 })
	if !waitUntil(5*time.Second, func() bool { return functionProcs(name) == 0 }) {
		t.Errorf("%d processes of %s left after the reap", functionProcs(name), name)
	}
	r, _, err = h.invoke(t.Context(), stoa.Msg{"fn": name})
	if err != nil || !r.Cold {
		t.Errorf("invoke after the reap: %+v, %v; want a cold reply", r, err)
	}
}

// TestUpdateUnderLoad updates a function while 8 callers invoke it
// without pause: no invocation fails, each reply comes from the old or the
// new version, every invocation that starts after the update gets the new
// one, and the old one's environments go. (Whether the new version was
// pre-warmed first is a race with the callers here; TestUpdatePrewarms
// shows it.)
func TestUpdateUnderLoad(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{Concurrency: 4})
	w := h.worker(nil)
	if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"}); err != nil {
		t.Fatal(err)
	}
	const callers, total = 8, 2000
	var updated atomic.Bool
	var done, sent atomic.Int64
	var mu sync.Mutex
	tags := map[string]int{}
	var failures []string
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for sent.Add(1) <= total {
				after := updated.Load()
				r, er, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"})
				n := done.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case after && er.Tag != "two":
					failures = append(failures, fmt.Sprintf("invocation %d started after the update and got version %d (%q)", n, r.Version, er.Tag))
				default:
					tags[er.Tag]++
				}
				mu.Unlock()
				if n == total/4 {
					h.reg.put("echo", bundleTwo, fn.Config{Concurrency: 4})
					updated.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for i, f := range failures {
		if i == 10 {
			t.Errorf("… %d failures in all", len(failures))
			break
		}
		t.Error(f)
	}
	if tags["one"] == 0 || tags["two"] == 0 || len(tags) != 2 {
		t.Errorf("replies by tag %v, want some of one and two only", tags)
	}
	t.Logf("%d invocations: %v", total, tags)
	waitStats(t, w, "echo", 1, "retired and empty", func(s worker.PoolStats) bool { return s.Envs == 0 })
}

// TestUpdatePrewarms: after an update, the new version gets as many warm
// environments as the old one had live, before any invocation asks, and
// the first invocation of it is warm.
func TestUpdatePrewarms(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{Concurrency: 4})
	w := h.worker(nil)
	if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"}); err != nil {
		t.Fatal(err)
	}
	h.reg.put("echo", bundleTwo, fn.Config{Concurrency: 4})
	waitStats(t, w, "echo", 2, "pre-warmed and idle", func(s worker.PoolStats) bool { return s.Prewarmed == 1 && s.Idle == 1 })
	r, er, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"})
	if err != nil || er.Tag != "two" || r.Cold {
		t.Errorf("first invocation after the update: %+v %+v, %v; want a warm reply from version two", r, er, err)
	}
}

func TestRemoveRetires(t *testing.T) {
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	w := h.worker(nil)
	if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"}); err != nil {
		t.Fatal(err)
	}
	h.reg.remove("echo")
	waitStats(t, w, "echo", 1, "closed after the function was deleted", func(s worker.PoolStats) bool { return s.Envs == 0 })
	if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"}); !errors.Is(err, &stoa.Error{Code: fn.CodeNotFound}) {
		t.Errorf("invoke after delete: %v, want %s", err, fn.CodeNotFound)
	}
}

// TestTwoWorkersShareLoad runs two workers on one server: NATS gives each
// some of the acts.
func TestTwoWorkersShareLoad(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	w1 := h.worker(func(w *worker.Worker) { w.Name = "w1" })
	w2 := h.worker(func(w *worker.Worker) { w.Name = "w2" })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := h.node.WaitFor(ctx, worker.Pattern, 2); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n1, n2 := stats(w1, "echo", 1).Invocations, stats(w2, "echo", 1).Invocations
	if n1+n2 != 200 || n1 == 0 || n2 == 0 {
		t.Errorf("worker 1 ran %d invocations, worker 2 %d; want 200 shared", n1, n2)
	}
}

// TestShutdownDrains checks that Shutdown lets an invocation in flight
// finish, then leaves no process behind.
func TestShutdownDrains(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	name := "drain" + fmt.Sprint(os.Getpid())
	h.reg.put(name, bundleOne, fn.Config{})
	w := &worker.Worker{Conn: h.conn("w"), Registry: h.reg, EnvDir: envDir}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.node.WaitFor(t.Context(), worker.Pattern, 1); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, _, err := h.invoke(t.Context(), stoa.Msg{"fn": name, "payload": map[string]any{"sleep": 300}})
		res <- err
	}()
	waitStats(t, w, name, 1, "busy", func(s worker.PoolStats) bool { return s.Envs == 1 && s.Idle == 0 && s.Started == 1 })
	if err := w.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-res; err != nil {
		t.Errorf("the invocation in flight during Shutdown: %v", err)
	}
	if n := functionProcs(name); n != 0 {
		t.Errorf("%d processes of %s left after Shutdown", n, name)
	}
	if _, err := w.Invoke(t.Context(), worker.Request{Fn: name}); !errors.Is(err, worker.ErrUnavailable) {
		t.Errorf("Invoke after Shutdown: %v, want %s", err, worker.CodeUnavailable)
	}
}

func TestLogs(t *testing.T) {
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	h.worker(func(w *worker.Worker) { w.LogMaxAge, w.LogMaxBytes = time.Hour, 1<<20 })
	s, err := h.js.Stream(t.Context(), worker.LogStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.MaxAge != time.Hour || c.MaxBytes != 1<<20 || c.Discard != jetstream.DiscardOld {
		t.Errorf("log stream limits: max age %v, max bytes %d, discard %v; want 1h, 1 MiB, old first", c.MaxAge, c.MaxBytes, c.Discard)
	}
	r, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"print": "hello from the function"}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []worker.LogRecord
	err = worker.ReadLogs(t.Context(), h.js, "echo", worker.LogOptions{}, func(rec worker.LogRecord) error {
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The REPORT line is published when the runtime asks for its next
	// event, just after the reply: follow until it is there.
	if len(recs) == 0 || !strings.Contains(string(recs[len(recs)-1].Text), "REPORT") {
		recs = nil
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		worker.ReadLogs(ctx, h.js, "echo", worker.LogOptions{Follow: true}, func(rec worker.LogRecord) error {
			recs = append(recs, rec)
			if strings.Contains(string(rec.Text), "REPORT") {
				cancel()
			}
			return nil
		})
	}
	var rec *worker.LogRecord
	for i := range recs {
		if recs[i].RequestID == r.RequestID {
			rec = &recs[i]
		}
	}
	if rec == nil {
		t.Fatalf("no log record for request %s in %+v", r.RequestID, recs)
	}
	text := string(rec.Text)
	for _, want := range []string{
		"START RequestId: " + r.RequestID + " Version: 1\n",
		"hello from the function\n",
		"END RequestId: " + r.RequestID + "\n",
		"REPORT RequestId: " + r.RequestID + "\tInit Duration: ",
		"\tBilled Duration: ",
		"\tMemory Size: 128 MB\t",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("log record %q lacks %q", text, want)
		}
	}
	if rec.Function != "echo" || rec.Version != 1 || rec.Time.IsZero() {
		t.Errorf("record %+v, want function echo, version 1, a time", rec)
	}
	if err := worker.ReadLogs(t.Context(), h.js, "nobody", worker.LogOptions{}, func(worker.LogRecord) error {
		t.Error("a record for a function that never ran")
		return nil
	}); err != nil {
		t.Errorf("logs of a function that never ran: %v", err)
	}
}

func TestRequestDecode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want worker.Request
		err  string
	}{
		{in: `{"fn":"a"}`, want: worker.Request{Fn: "a"}},
		{in: `{"fn":"a","qualifier":"prod","payload":{"x":[1,2]}}`, want: worker.Request{Fn: "a", Qualifier: "prod", Payload: json.RawMessage(`{"x":[1,2]}`)}},
		{in: `{"fn":"a","qualifier":3}`, want: worker.Request{Fn: "a", Qualifier: "3"}},
		{in: `{"fn":"a","qualifier":null,"payload":"text"}`, want: worker.Request{Fn: "a", Payload: json.RawMessage(`"text"`)}},
		{in: `{"fn":"a","qualifier":1.5}`, err: "qualifier must be"},
		{in: `{"fn":["a"]}`, err: "fn must be"},
		{in: `{}`, err: "fn must be"},
	} {
		var got worker.Request
		err := json.Unmarshal([]byte(c.in), &got)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got.Fn != c.want.Fn || got.Qualifier != c.want.Qualifier || string(got.Payload) != string(c.want.Payload) {
			t.Errorf("%s: got %+v (%s), %v; want %+v (%s)", c.in, got, got.Payload, err, c.want, c.want.Payload)
		}
	}
}

func TestCollector(t *testing.T) {
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	w := h.worker(nil)
	for range 2 {
		if _, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(w.Collector()); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"stoa_fn_invocations_total,function=echo,start=cold,version=1":           1,
		"stoa_fn_invocations_total,function=echo,start=warm,version=1":           1,
		"stoa_fn_environments,function=echo,state=idle,version=1":                1,
		"stoa_fn_environments,function=echo,state=busy,version=1":                0,
		"stoa_fn_environment_events_total,event=started,function=echo,version=1": 1,
		"stoa_fn_errors_total,function=echo,version=1":                           0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}

// TestLogRetention checks that the log stream keeps to its size limit,
// dropping the oldest invocations' logs first.
func TestLogRetention(t *testing.T) {
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	const limit = 16 << 10
	h.worker(func(w *worker.Worker) { w.LogMaxBytes = limit })
	var first, last string
	for i := range 40 {
		r, _, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"print": strings.Repeat("x", 1000)}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r.RequestID
		}
		last = r.RequestID
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var ids []string
	worker.ReadLogs(ctx, h.js, "echo", worker.LogOptions{Follow: true}, func(rec worker.LogRecord) error {
		ids = append(ids, rec.RequestID)
		if rec.RequestID == last && strings.Contains(string(rec.Text), "REPORT") {
			cancel()
		}
		return nil
	})
	if len(ids) == 0 || ids[len(ids)-1] != last {
		t.Fatalf("logs end with %v, want the last invocation %s", ids, last)
	}
	if slices.Contains(ids, first) || len(ids) >= 40 {
		t.Errorf("%d records kept, the first invocation's among them: %v; want the oldest dropped", len(ids), slices.Contains(ids, first))
	}
	s, err := h.js.Stream(t.Context(), worker.LogStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > limit {
		t.Errorf("log stream holds %d bytes, over its limit of %d", info.State.Bytes, limit)
	}
}

// TestInFlightKeepsItsVersion updates a function while an invocation of
// the old version runs: it finishes on the old version, the next one runs
// the new version, and the old version's environment closes once idle.
func TestInFlightKeepsItsVersion(t *testing.T) {
	checkLeaks(t)
	h := newHarness(t)
	h.reg.put("echo", bundleOne, fn.Config{})
	w := h.worker(nil)
	type result struct {
		r   worker.Reply
		er  echoReply
		err error
	}
	slow := make(chan result, 1)
	go func() {
		r, er, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo", "payload": map[string]any{"sleep": 500}})
		slow <- result{r, er, err}
	}()
	waitStats(t, w, "echo", 1, "busy", func(s worker.PoolStats) bool { return s.Started == 1 && s.Idle == 0 && s.Envs == 1 })
	h.reg.put("echo", bundleTwo, fn.Config{})
	r, er, err := h.invoke(t.Context(), stoa.Msg{"fn": "echo"})
	if err != nil || r.Version != 2 || er.Tag != "two" {
		t.Errorf("invocation after the update: version %d tag %q, %v; want 2, two", r.Version, er.Tag, err)
	}
	old := <-slow
	if old.err != nil || old.r.Version != 1 || old.er.Tag != "one" {
		t.Errorf("invocation in flight during the update: version %d tag %q, %v; want 1, one", old.r.Version, old.er.Tag, old.err)
	}
	waitStats(t, w, "echo", 1, "old version's environment closed", func(s worker.PoolStats) bool { return s.Envs == 0 })
}
