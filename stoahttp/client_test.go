package stoahttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoahttp"
)

// newCaller returns an engine with a client of url attached.
func newCaller(t testing.TB, url string, opts ...stoahttp.ClientOption) (*stoa.Engine, *stoahttp.Client) {
	t.Helper()
	caller := stoa.New()
	t.Cleanup(func() { caller.Close(context.Background()) })
	c, err := stoahttp.NewClient(caller, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return caller, c
}

func wantCode(t *testing.T, err error, code string) *stoa.Error {
	t.Helper()
	var se *stoa.Error
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("error %v (%T), want a *stoa.Error with code %s", err, err, code)
	}
	return se
}

// TestClientNoLeaks: 10,000 acts reuse a few keep-alive connections, and
// once the client is closed no connection or goroutine is left.
func TestClientNoLeaks(t *testing.T) {
	e := testEngine(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	url := serveOn(t, e, nil, cl)
	// One request first, so that the listener's own goroutines (its accept
	// loop, its worker pool's cleaner, and the HTTP date clock, which runs
	// once per process) count as there before: this test is about the
	// client's.
	if r := send(t, "GET", url+"/healthz", "", nil); r.status != 200 {
		t.Fatalf("GET /healthz: %v", r)
	}
	http.DefaultClient.CloseIdleConnections()
	warm := cl.accepted.Load()

	before := runtime.NumGoroutine()
	caller := stoa.New()
	c, err := stoahttp.NewClient(caller, url)
	if err != nil {
		t.Fatal(err)
	}
	const acts, workers = 10000, 8
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= acts; i = next.Add(1) {
				out, err := caller.Act(t.Context(), stoa.Msg{"role": "hello", "cmd": "sayHello", "name": "n"})
				if err != nil || string(out) != `{"message":"Hello n"}` {
					errs <- fmt.Errorf("act %d: %s, %v", i, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	accepted := cl.accepted.Load() - warm
	if accepted > 2*workers {
		t.Errorf("%d acts opened %d connections, want at most %d: keep-alive connections are not reused", acts, accepted, 2*workers)
	}
	during := runtime.NumGoroutine()
	if grown := during - before; grown > 4*int(accepted)+8 {
		t.Errorf("after %d acts: %d goroutines more than before (%d connections), want a few per connection", acts, grown, accepted)
	}
	t.Logf("%d acts: %d connections, goroutines %d before, %d after the acts", acts, accepted, before, during)

	if err := caller.Close(t.Context()); err != nil { // closes the client too
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return cl.open.Load() == 0 }) {
		t.Errorf("after Close: %d connections still open, want 0", cl.open.Load())
	}
	if !waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Errorf("after Close: %d goroutines, want at most %d as before\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
	}
	if _, err := caller.Act(t.Context(), stoa.Msg{"role": "hello", "cmd": "sayHello"}); !errors.Is(err, stoa.ErrClosed) {
		t.Errorf("act after Close: %v, want code closed", err)
	}
	c.Close() // a second Close does nothing
}

// TestClientWire checks what the client sends: the metadata as Seneca's
// headers, the act's remaining time as timeout$, no fatal$ and no keys of
// Seneca's internals; and that default$ still reaches the far side.
func TestClientWire(t *testing.T) {
	type seen struct {
		header http.Header
		body   map[string]any
	}
	got := make(chan seen, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		got <- seen{r.Header, m}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	caller, c := newCaller(t, ln.Addr().String())
	if want := "http://" + ln.Addr().String() + "/act"; c.URL() != want {
		t.Errorf("URL() = %q, want %q", c.URL(), want)
	}

	var actMeta stoa.Meta
	caller.Add("role:outer", func(ctx context.Context, m stoa.Msg) (any, error) {
		actMeta = stoa.ContextMeta(ctx)
		return caller.Act(ctx, stoa.Msg{"role": "inner", "fatal$": true, "tx$": "x", "meta$": map[string]any{}, "default$": map[string]any{"d": 1}, "x$": 2})
	})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx, cancel := context.WithTimeout(stoa.WithMeta(t.Context(), stoa.Meta{TraceParent: tp}), 3*time.Second)
	defer cancel()
	if out, err := caller.Act(ctx, stoa.Msg{"role": "outer"}); err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("act: %s, %v", out, err)
	}
	s := <-got
	id := s.header.Get("seneca-id")
	mi, tx, ok := strings.Cut(id, "/")
	if !ok || mi == "" || tx != actMeta.TxID || mi == actMeta.ID {
		t.Errorf("seneca-id = %q, want the inner act's id / the transaction %q", id, actMeta.TxID)
	}
	for name, want := range map[string]string{
		"seneca-origin": caller.ID(),
		"seneca-track":  `["` + caller.ID() + `"]`,
		"seneca-kind":   "req",
		"Content-Type":  "application/json",
		"traceparent":   tp,
	} {
		if v := s.header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	ms, _ := s.body["timeout$"].(float64)
	if ms <= 0 || ms > 3000 {
		t.Errorf("timeout$ = %v, want the act's remaining time, in (0, 3000] ms", s.body["timeout$"])
	}
	for _, k := range []string{"fatal$", "tx$", "meta$"} {
		if _, ok := s.body[k]; ok {
			t.Errorf("body has %s: %v", k, s.body)
		}
	}
	for _, k := range []string{"role", "default$", "x$"} {
		if _, ok := s.body[k]; !ok {
			t.Errorf("body lacks %s: %v", k, s.body)
		}
	}
}

// TestClientErrors: the caller gets the far side's own error, code,
// message and status; a reply that is not Seneca's JSON and a listener
// that is not there give act_execute, as a Seneca client says it.
func TestClientErrors(t *testing.T) {
	e := testEngine(t)
	caller, _ := newCaller(t, listen(t, e, nil))
	act := func(msg stoa.Msg) error {
		_, err := caller.Act(t.Context(), msg)
		return err
	}
	se := wantCode(t, act(stoa.Msg{"role": "test", "cmd": "forbidden"}), "forbidden_thing")
	if se.Message != "not allowed" || se.Details["statusCode"] != float64(403) {
		t.Errorf("error %+v, want message %q and statusCode 403", se, "not allowed")
	}
	wantCode(t, act(stoa.Msg{"role": "seneca", "cmd": "ping"}), stoahttp.CodeNotAllowed)

	plain := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream is down", http.StatusBadGateway)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go plain.Serve(ln)
	t.Cleanup(func() { plain.Close() })
	caller2, _ := newCaller(t, ln.Addr().String())
	_, err = caller2.Act(t.Context(), stoa.Msg{"a": 1})
	se = wantCode(t, err, stoa.CodeExecute)
	if se.Message != "response error: 502 Bad Gateway" {
		t.Errorf("message %q, want %q", se.Message, "response error: 502 Bad Gateway")
	}

	// A listener that reads the request and hangs up without a reply.
	rude, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rude.Close() })
	go func() {
		for {
			conn, err := rude.Accept()
			if err != nil {
				return
			}
			http.ReadRequest(bufio.NewReader(conn))
			conn.Close()
		}
	}()
	caller4, _ := newCaller(t, rude.Addr().String())
	_, err = caller4.Act(t.Context(), stoa.Msg{"a": 1})
	se = wantCode(t, err, stoa.CodeExecute)
	if !errors.Is(err, io.EOF) || !strings.Contains(se.Message, "closed the connection before it replied") {
		t.Errorf("error %v, want one that says the listener hung up, wrapping io.EOF", err)
	}

	// Nothing listens on a port just closed.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	caller3, _ := newCaller(t, gone.Addr().String())
	_, err = caller3.Act(t.Context(), stoa.Msg{"a": 1})
	wantCode(t, err, stoa.CodeExecute)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not wrap ECONNREFUSED", err)
	}
}

// TestClientPins: with pins, only those go to the far side; the rest stays
// local, and what matches nothing is not found here.
func TestClientPins(t *testing.T) {
	remote := testEngine(t)
	caller, _ := newCaller(t, listen(t, remote, nil), stoahttp.WithPins("role:hello", map[string]any{"role": "test", "cmd": "array"}))
	caller.Add("role:local", func(context.Context, stoa.Msg) (any, error) { return map[string]any{"here": true}, nil })
	for _, tc := range []struct {
		msg  string
		want string
		code string
	}{
		{"role:hello,cmd:sayHello,name:P", `{"message":"Hello P"}`, ""},
		{"role:test,cmd:array", `[1,2,3]`, ""},
		{"role:local", `{"here":true}`, ""},
		{"role:test,cmd:echo", "", stoa.CodeNotFound},
	} {
		out, err := caller.Act(t.Context(), tc.msg)
		if tc.code != "" {
			var se *stoa.Error
			if !errors.As(err, &se) || se.Code != tc.code || se.Pattern != "" {
				t.Errorf("act %s: %s, %v; want a local %s", tc.msg, out, err, tc.code)
			}
			continue
		}
		if err != nil || string(out) != tc.want {
			t.Errorf("act %s: %s, %v; want %s", tc.msg, out, err, tc.want)
		}
	}
	if _, err := stoahttp.NewClient(caller, "", stoahttp.WithPins("a:'x")); err == nil {
		t.Error("NewClient with a pin that does not parse: no error")
	}
}

func TestClientURL(t *testing.T) {
	e := stoa.New()
	defer e.Close(context.Background())
	for _, tc := range []struct{ in, want string }{
		{"", "http://127.0.0.1:10101/act"},
		{"localhost:8082", "http://localhost:8082/act"},
		{"http://10.0.0.1:9000", "http://10.0.0.1:9000/act"},
		{"https://svc.example/custom", "https://svc.example/custom"},
	} {
		c, err := stoahttp.NewClient(e, tc.in, stoahttp.WithPins(fmt.Sprintf("u:%d", len(tc.in))))
		if err != nil {
			t.Errorf("NewClient(%q): %v", tc.in, err)
			continue
		}
		if c.URL() != tc.want {
			t.Errorf("NewClient(%q).URL() = %q, want %q", tc.in, c.URL(), tc.want)
		}
	}
	for _, bad := range []string{"ftp://x/y", "http://", "http://[::1"} {
		if _, err := stoahttp.NewClient(e, bad); err == nil {
			t.Errorf("NewClient(%q): no error", bad)
		}
	}
}

// TestClientClose: Close ends the acts being sent at once, and later acts
// fail with code closed.
func TestClientClose(t *testing.T) {
	e := testEngine(t)
	caller, c := newCaller(t, listen(t, e, nil))
	entered := make(chan struct{})
	// The listener does not see its caller go away (RATIONALE.md): the act
	// would run to its timeout$, so the test ends it before the listener
	// closes.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.Add("role:test,cmd:block", func(ctx context.Context, _ stoa.Msg) (any, error) {
		close(entered)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return nil, errors.New("released")
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := caller.Act(t.Context(), stoa.Msg{"role": "test", "cmd": "block"})
		done <- err
	}()
	<-entered
	start := time.Now()
	c.Close()
	wantCode(t, <-done, stoa.CodeClosed)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with an act in flight, want it at once", d)
	}
	_, err := caller.Act(t.Context(), stoa.Msg{"role": "hello", "cmd": "sayHello"})
	wantCode(t, err, stoa.CodeClosed)
}

// TestClientCancel: a caller that cancels its act gets code canceled
// soon, while the far side is still working on it.
func TestClientCancel(t *testing.T) {
	e := testEngine(t)
	caller, _ := newCaller(t, listen(t, e, nil))
	entered := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.Add("role:test,cmd:hold", func(ctx context.Context, _ stoa.Msg) (any, error) {
		close(entered)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return map[string]any{"held": true}, nil
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := caller.Act(ctx, stoa.Msg{"role": "test", "cmd": "hold"})
		done <- err
	}()
	<-entered
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		wantCode(t, err, stoa.CodeCanceled)
		if d := time.Since(start); d > time.Second {
			t.Errorf("the act returned %v after its caller canceled it, want within the client's checks (200 ms apart at most)", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the act did not return 10 s after its caller canceled it")
	}
	// The client still works.
	if out, err := caller.Act(t.Context(), stoa.Msg{"role": "hello", "cmd": "sayHello"}); err != nil || string(out) != `{"message":"Hello World"}` {
		t.Errorf("act after a canceled one: %s, %v", out, err)
	}
}

// closeSignal is a listener that says when the server has closed it.
type closeSignal struct {
	net.Listener
	closed chan struct{}
	once   sync.Once
}

func (l *closeSignal) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// TestServerCloseFinishesActs: Close stops accepting, lets every act in
// flight finish and reply, then returns.
func TestServerCloseFinishesActs(t *testing.T) {
	e := testEngine(t)
	const inFlight = 32
	var entered sync.WaitGroup
	entered.Add(inFlight)
	gate := make(chan struct{})
	e.Add("role:test,cmd:gate", func(ctx context.Context, m stoa.Msg) (any, error) {
		entered.Done()
		<-gate
		return map[string]any{"n": m["n"]}, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := &closeSignal{Listener: ln, closed: make(chan struct{})}
	srv := &stoahttp.Server{Engine: e}
	go srv.Serve(sl)
	caller, _ := newCaller(t, "http://"+ln.Addr().String())

	results := make(chan error, inFlight)
	for i := range inFlight {
		go func() {
			out, err := caller.Act(t.Context(), stoa.Msg{"role": "test", "cmd": "gate", "n": i})
			if err == nil && string(out) != fmt.Sprintf(`{"n":%d}`, i) {
				err = fmt.Errorf("act %d replied %s", i, out)
			}
			results <- err
		}()
	}
	entered.Wait()
	closed := make(chan error, 1)
	go func() { closed <- srv.Close(context.Background()) }()
	<-sl.closed // no new connections from here
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with %d acts in flight", err, inFlight)
	default:
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("a new connection was accepted after Close began")
	}
	close(gate)
	for range inFlight {
		if err := <-results; err != nil {
			t.Errorf("act in flight at Close: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestServerCloseUnderLoad: callers act without pause while the server
// closes. Every act the server began is answered, and the only acts that
// fail are those that never reached it (refused or closed connections).
func TestServerCloseUnderLoad(t *testing.T) {
	e := testEngine(t)
	var began, answered atomic.Int64
	e.Add("role:test,cmd:load", func(ctx context.Context, m stoa.Msg) (any, error) {
		began.Add(1)
		return map[string]any{"n": m["n"]}, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &stoahttp.Server{Engine: e}
	go srv.Serve(ln)
	caller, _ := newCaller(t, "http://"+ln.Addr().String())

	const workers, before = 16, 2000
	closeNow := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	failures := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				n := w*1_000_000 + i
				out, err := caller.Act(t.Context(), stoa.Msg{"role": "test", "cmd": "load", "n": n})
				if err != nil {
					failures <- err
					return
				}
				if string(out) != fmt.Sprintf(`{"n":%d}`, n) {
					failures <- fmt.Errorf("act %d replied %s", n, out)
					return
				}
				if answered.Add(1) == before {
					once.Do(func() { close(closeNow) })
				}
			}
		})
	}
	<-closeNow
	if err := srv.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		var se *stoa.Error
		var ne net.Error
		if !errors.As(err, &se) || se.Code != stoa.CodeExecute || !(errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "server closed idle connection")) {
			t.Errorf("an act failed other than by not reaching the server: %v", err)
		}
	}
	if b, a := began.Load(), answered.Load(); b != a {
		t.Errorf("the server began %d acts and %d were answered: %d lost", b, a, b-a)
	}
	t.Logf("%d acts answered while the server closed", answered.Load())
}
