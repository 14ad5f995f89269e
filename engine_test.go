package stoa_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
)

func mustAdd(t *testing.T, e *stoa.Engine, pattern any, h stoa.Handler) {
	t.Helper()
	if err := e.Add(pattern, h); err != nil {
		t.Fatalf("Add(%v): %v", pattern, err)
	}
}

func reply(v any) stoa.Handler {
	return func(context.Context, stoa.Msg) (any, error) { return v, nil }
}

func TestAddErrors(t *testing.T) {
	e := stoa.New()
	for _, p := range []any{"a:x y", "a:'x y'", map[string]any{"a": "x,y"}, "a:x,y"} {
		err := e.Add(p, reply(nil))
		var se *stoa.Error
		if !errors.As(err, &se) || se.Code != stoa.CodePatternSyntax {
			t.Errorf("Add(%q) error = %v, want code %s", p, err, stoa.CodePatternSyntax)
		}
	}
	if err := e.Add("a:1", nil); err == nil {
		t.Error("Add with a nil handler succeeded")
	}
	if got := e.Patterns(); len(got) != 0 {
		t.Errorf("failed adds left patterns %v", got)
	}
}

func TestPatternsAndFind(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, "role:math,cmd:sum", reply(nil))
	mustAdd(t, e, map[string]any{"cmd": "sum", "role": "math", "integer": true}, reply(nil))
	mustAdd(t, e, struct {
		Role string `json:"role"`
	}{"search"}, reply(nil))
	want := []string{"cmd:sum,integer:true,role:math", "cmd:sum,role:math", "role:search"}
	if got := e.Patterns(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Patterns() = %v, want %v", got, want)
	}
	if p, ok := e.Find(`{"role":"math","cmd":"sum","integer":"true"}`); !ok || p != want[0] {
		t.Errorf("Find = %q, %v; want %q", p, ok, want[0])
	}
	if p, ok := e.Find("role:nothing"); ok {
		t.Errorf("Find(role:nothing) = %q, want no match", p)
	}
}

// TestActPattern checks that ActPattern answers as Act does and reports
// the pattern Find gives for the same message, whatever the outcome.
func TestActPattern(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, "role:math,cmd:sum", reply(map[string]int{"answer": 3}))
	mustAdd(t, e, map[string]any{"role": "page", "paging": map[string]any{"size": 10}}, reply(nil))
	mustAdd(t, e, "role:fail", func(context.Context, stoa.Msg) (any, error) { return nil, errors.New("boom") })
	for _, tt := range []struct {
		msg     any
		pattern string
		reply   string // or the error code
	}{
		{`{"role":"math","cmd":"sum"}`, "cmd:sum,role:math", `{"answer":3}`},
		{stoa.Msg{"role": "math", "cmd": "sum", "left": 1}, "cmd:sum,role:math", `{"answer":3}`},
		{`{"role":"page","paging":{"size":"big"}}`, "role:page", stoa.CodeInvalidMsg},
		{"role:fail", "role:fail", stoa.CodeExecute},
		{"role:none", "", stoa.CodeNotFound},
		{`{"role":"none","default$":{"d":1}}`, "", `{"d":1}`},
		{json.RawMessage(`{"role":`), "", stoa.CodeInvalidJSON},
	} {
		out, pattern, err := e.ActPattern(t.Context(), tt.msg)
		got := string(out)
		var se *stoa.Error
		if errors.As(err, &se) {
			got = se.Code
		}
		if pattern != tt.pattern || got != tt.reply {
			t.Errorf("ActPattern(%v) = %q, %s; want %q, %s", tt.msg, pattern, got, tt.pattern, tt.reply)
		}
		if p, _ := e.Find(tt.msg); p != pattern {
			t.Errorf("ActPattern(%v) pattern %q; Find gives %q", tt.msg, pattern, p)
		}
		if aout, aerr := e.Act(t.Context(), tt.msg); string(aout) != string(out) || (aerr == nil) != (err == nil) {
			t.Errorf("ActPattern(%v) = %s, %v; Act gives %s, %v", tt.msg, out, err, aout, aerr)
		}
	}
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, pattern, err := e.ActPattern(t.Context(), "role:math,cmd:sum"); pattern != "cmd:sum,role:math" || !errors.Is(err, stoa.ErrClosed) {
		t.Errorf("after Close: ActPattern = %q, %v; want cmd:sum,role:math, closed", pattern, err)
	}
}

func TestActMessageForms(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, "role:echo", func(_ context.Context, m stoa.Msg) (any, error) { return map[string]any{"n": m["n"]}, nil })
	type echoMsg struct {
		Role string `json:"role"`
		N    int    `json:"n"`
	}
	for _, msg := range []any{
		stoa.Msg{"role": "echo", "n": 7},
		map[string]any{"role": "echo", "n": 7},
		"role:echo,n:7",
		[]byte(`{"role":"echo","n":7}`),
		json.RawMessage(`{"role":"echo","n":7}`),
		stoa.TrustedJSON(`{"role":"echo","n":7}`),
		echoMsg{Role: "echo", N: 7},
		&echoMsg{Role: "echo", N: 7},
	} {
		out, err := e.Act(t.Context(), msg)
		if err != nil || string(out) != `{"n":7}` {
			t.Errorf("Act(%T) = %s, %v; want {\"n\":7}", msg, out, err)
		}
	}
	for _, bad := range []any{`{"role":`, []byte(`[1,2]`), []byte(`{"a":`), "a:x y", 42} {
		_, err := e.Act(t.Context(), bad)
		var se *stoa.Error
		if !errors.As(err, &se) {
			t.Errorf("Act(%v) error = %v, want a *stoa.Error", bad, err)
		}
	}
}

func TestPriorAndDefault(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, "role:greet", func(ctx context.Context, m stoa.Msg) (any, error) {
		return map[string]any{"text": "hello"}, nil
	})
	mustAdd(t, e, "role:greet", func(ctx context.Context, m stoa.Msg) (any, error) {
		out, err := stoa.Prior(ctx, m)
		if err != nil {
			return nil, err
		}
		var r map[string]string
		json.Unmarshal(out, &r)
		return map[string]any{"text": strings.ToUpper(r["text"])}, nil
	})
	mustAdd(t, e, "role:lonely", func(ctx context.Context, m stoa.Msg) (any, error) {
		return stoa.Prior(ctx, m)
	})
	if out, err := e.Act(t.Context(), "role:greet"); err != nil || string(out) != `{"text":"HELLO"}` {
		t.Errorf("greet = %s, %v; want the override wrapping its prior", out, err)
	}
	if out, err := e.Act(t.Context(), "role:lonely"); err != nil || string(out) != "null" {
		t.Errorf("prior of nothing = %s, %v; want null", out, err)
	}
	out, err := e.Act(t.Context(), stoa.Msg{"role": "lonely", "default$": map[string]any{"d": 1}})
	if err != nil || string(out) != `{"d":1}` {
		t.Errorf("prior of nothing with default$ = %s, %v; want {\"d\":1}", out, err)
	}
	if _, err := stoa.Prior(t.Context(), stoa.Msg{}); err == nil {
		t.Error("Prior outside a handler succeeded")
	}
}

func TestValidationDefaultsReachHandler(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, map[string]any{"role": "page", "paging": map[string]any{"size": 10}},
		stoa.Handle(func(_ context.Context, in struct {
			Paging struct{ Size int } `json:"paging"`
		}) (map[string]int, error) {
			return map[string]int{"size": in.Paging.Size}, nil
		}))
	for msg, want := range map[string]string{
		`{"role":"page"}`:                     `{"size":10}`,
		`{"role":"page","paging":{"size":3}}`: `{"size":3}`,
	} {
		out, err := e.Act(t.Context(), []byte(msg))
		if err != nil || string(out) != want {
			t.Errorf("Act(%s) = %s, %v; want %s", msg, out, err, want)
		}
	}
	_, err := e.Act(t.Context(), []byte(`{"role":"page","paging":{"size":"big"}}`))
	if !errors.Is(err, stoa.ErrInvalidMsg) {
		t.Errorf("bad paging: error = %v, want act_invalid_msg", err)
	}
}

func TestHandlerErrorPassThrough(t *testing.T) {
	e := stoa.New()
	remote := &stoa.Error{Code: stoa.CodeNotFound, Message: "far side has no pattern"}
	mustAdd(t, e, "role:forward", func(context.Context, stoa.Msg) (any, error) { return nil, remote })
	cause := errors.New("disk full")
	mustAdd(t, e, "role:plain", func(context.Context, stoa.Msg) (any, error) { return nil, cause })
	if _, err := e.Act(t.Context(), "role:forward"); err != remote {
		t.Errorf("a handler's *Error reached the caller as %v, want it unchanged", err)
	}
	_, err := e.Act(t.Context(), "role:plain")
	if !errors.Is(err, stoa.ErrExecute) || !errors.Is(err, cause) {
		t.Errorf("plain handler error = %v, want act_execute wrapping the cause", err)
	}
}

func TestMetadataChain(t *testing.T) {
	e := stoa.New()
	var outer, inner stoa.Meta
	mustAdd(t, e, "role:inner", func(ctx context.Context, m stoa.Msg) (any, error) {
		inner = stoa.ContextMeta(ctx)
		return nil, nil
	})
	mustAdd(t, e, "role:outer", func(ctx context.Context, m stoa.Msg) (any, error) {
		outer = stoa.ContextMeta(ctx)
		return e.Act(ctx, "role:inner")
	})
	ctx := stoa.WithMeta(t.Context(), stoa.Meta{ID: "given/1", TraceParent: "00-aa-bb-01", Caller: "tester"})
	if _, err := e.Act(ctx, "role:outer"); err != nil {
		t.Fatal(err)
	}
	if outer.ID != "given/1" || outer.Caller != "tester" || outer.TxID != "given/1" {
		t.Errorf("outer meta = %+v, want the given id, caller and tx", outer)
	}
	if inner.ParentID != outer.ID || inner.TxID != outer.TxID || inner.TraceParent != "00-aa-bb-01" {
		t.Errorf("inner meta = %+v, want parent %q, tx %q and the trace context", inner, outer.ID, outer.TxID)
	}
	if inner.ID == outer.ID || inner.Caller != e.ID() {
		t.Errorf("inner meta = %+v: want its own id and this engine as caller", inner)
	}
	if m := stoa.ContextMeta(t.Context()); m != (stoa.Meta{}) {
		t.Errorf("ContextMeta outside a handler = %+v, want zero", m)
	}
}

func TestTimeouts(t *testing.T) {
	e := stoa.New(stoa.WithTimeout(150 * time.Millisecond))
	var sawDone atomic.Bool
	mustAdd(t, e, "role:polite", func(ctx context.Context, m stoa.Msg) (any, error) {
		<-ctx.Done()
		sawDone.Store(true)
		return nil, ctx.Err()
	})
	mustAdd(t, e, "role:late", func(ctx context.Context, m stoa.Msg) (any, error) {
		time.Sleep(300 * time.Millisecond) // ignores ctx, answers after the deadline
		return map[string]bool{"late": true}, nil
	})
	mustAdd(t, e, "role:quick", func(ctx context.Context, m stoa.Msg) (any, error) {
		d, ok := ctx.Deadline()
		return map[string]any{"left_ms": time.Until(d).Milliseconds(), "ok": ok}, nil
	})
	for _, c := range []struct {
		name     string
		msg      stoa.Msg
		min, max time.Duration
	}{
		{"engine default", stoa.Msg{"role": "polite"}, 150 * time.Millisecond, 2 * time.Second},
		{"timeout$", stoa.Msg{"role": "polite", "timeout$": 20}, 20 * time.Millisecond, 1 * time.Second},
		{"late reply discarded", stoa.Msg{"role": "late", "timeout$": 20}, 300 * time.Millisecond, 2 * time.Second},
	} {
		start := time.Now()
		out, err := e.Act(t.Context(), c.msg)
		if !errors.Is(err, stoa.ErrTimeout) {
			t.Errorf("%s: %s, %v; want action_timeout", c.name, out, err)
		}
		if d := time.Since(start); d < c.min || d > c.max {
			t.Errorf("%s: took %v, want between %v and %v", c.name, d, c.min, c.max)
		}
	}
	if !sawDone.Load() {
		t.Error("the handler's context never ended")
	}
	// The handler's context carries the act's deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Millisecond)
	defer cancel()
	out, err := e.Act(ctx, "role:quick")
	var r struct {
		LeftMS int64 `json:"left_ms"`
		OK     bool  `json:"ok"`
	}
	json.Unmarshal(out, &r)
	if err != nil || !r.OK || r.LeftMS > 40 {
		t.Errorf("deadline seen by the handler: %s, %v; want at most 40ms left", out, err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := e.Act(ctx, "role:polite"); !errors.Is(err, context.Canceled) || !errors.Is(err, &stoa.Error{Code: stoa.CodeCanceled}) {
		t.Errorf("canceled act: error = %v, want act_canceled wrapping context.Canceled", err)
	}
}

func TestCloseWaitsForActsInFlight(t *testing.T) {
	e := stoa.New()
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	mustAdd(t, e, "role:work", func(ctx context.Context, m stoa.Msg) (any, error) {
		started <- struct{}{}
		<-release
		return map[string]bool{"done": true}, nil
	})
	var wg sync.WaitGroup
	results := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			out, err := e.Act(context.Background(), "role:work")
			if err == nil && string(out) != `{"done":true}` {
				err = errors.New("wrong reply " + string(out))
			}
			results <- err
		})
	}
	for range 5 {
		<-started
	}
	closed := make(chan error, 1)
	go func() { closed <- e.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with acts in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := e.Act(context.Background(), "role:work"); !errors.Is(err, stoa.ErrClosed) {
		t.Errorf("act during Close: %v, want code closed", err)
	}
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("act in flight during Close failed: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
	// Bounded: a stuck act does not hold Close past its context.
	e2 := stoa.New()
	block := make(chan struct{})
	defer close(block)
	inFlight := make(chan struct{})
	mustAdd(t, e2, "role:stuck", func(ctx context.Context, m stoa.Msg) (any, error) {
		close(inFlight)
		<-block
		return nil, nil
	})
	go e2.Act(context.Background(), "role:stuck")
	<-inFlight
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e2.Close(ctx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a stuck act = %v, want a deadline error", err)
	}
}

func TestPlugins(t *testing.T) {
	e := stoa.New()
	var order []string
	mk := func(name string) stoa.Plugin {
		return stoa.Plugin{
			Name:  name,
			Setup: func(a *stoa.Adder) error { return a.Add("plugin:"+name, reply(map[string]string{"from": name})) },
			Init:  func(context.Context) error { order = append(order, "init "+name); return nil },
			Close: func(context.Context) error { order = append(order, "close "+name); return nil },
		}
	}
	for _, p := range []stoa.Plugin{mk("a"), mk("b"), mk("a")} {
		if err := e.Use(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out, err := e.Act(t.Context(), "plugin:b"); err != nil || string(out) != `{"from":"b"}` {
		t.Errorf("plugin pattern = %s, %v", out, err)
	}
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, ","), "init a,init b,close b,close a"; got != want {
		t.Errorf("plugin lifecycle = %s, want %s", got, want)
	}
	bad := stoa.Plugin{Name: "bad", Init: func(context.Context) error { return errors.New("no database") }}
	e2 := stoa.New()
	e2.Use(bad)
	if err := e2.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("Ready with a failing plugin = %v", err)
	}
	if err := e2.Use(stoa.Plugin{}); err == nil {
		t.Error("Use of a plugin without a name succeeded")
	}
}

func TestErrorJSON(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, "role:e,cmd:fail", func(context.Context, stoa.Msg) (any, error) { return nil, errors.New("handler failed") })
	_, err := e.Act(t.Context(), "role:e,cmd:fail")
	var se *stoa.Error
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	b, jerr := json.Marshal(se)
	if jerr != nil {
		t.Fatal(jerr)
	}
	var wire map[string]any
	json.Unmarshal(b, &wire)
	if wire["code"] != "act_execute" || wire["eraro"] != true || wire["seneca"] != true {
		t.Errorf("error JSON %s lacks Seneca's code, eraro and seneca fields", b)
	}
	if msg, _ := wire["message"].(string); msg != "seneca: Action cmd:fail,role:e failed: handler failed." {
		t.Errorf("message = %q, want Seneca's wording", msg)
	}
	var back stoa.Error
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Code != se.Code || back.Pattern != se.Pattern || back.Message != se.Message || !errors.Is(&back, stoa.ErrExecute) {
		t.Errorf("round trip = %+v, want code, pattern and message of %+v", back, se)
	}
	if strings.Contains(string(b), ".go") {
		t.Errorf("error JSON names a Go file: %s", b)
	}
}

// TestStdlibOnly keeps the root package free of dependencies: it is the
// product's core, and every other package imports it.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/stoaproject/stoa" {
			t.Errorf("package stoa must import the standard library only; it pulls in %s", p)
		}
	}
}

func TestRemove(t *testing.T) {
	e := stoa.New()
	mustAdd(t, e, "role:x", reply(map[string]int{"v": 1}))
	mustAdd(t, e, "role:x", reply(map[string]int{"v": 2}))
	mustAdd(t, e, "role:x,cmd:y", reply(map[string]int{"v": 3}))
	mustAdd(t, e, "role:*", reply(map[string]int{"v": 4}))
	act := func(msg string) string {
		out, err := e.Act(t.Context(), msg)
		if err != nil {
			return err.(*stoa.Error).Code
		}
		return string(out)
	}
	steps := []struct {
		remove  string
		removed bool
		msg     string
		want    string
	}{
		{"role:x,cmd:y", true, "role:x,cmd:y", `{"v":2}`},
		{"role:x,cmd:y", false, "role:x,cmd:y", `{"v":2}`},
		{"role:x", true, "role:x", `{"v":1}`}, // the override goes, what it overrode answers
		{"role:x", true, "role:x", `{"v":4}`},
		{"role:*", true, "role:x", "act_not_found"},
		{"cmd:nothing", false, "role:z", "act_not_found"},
	}
	for _, s := range steps {
		removed, err := e.Remove(s.remove)
		if err != nil || removed != s.removed {
			t.Errorf("Remove(%s) = %v, %v; want %v", s.remove, removed, err, s.removed)
		}
		if got := act(s.msg); got != s.want {
			t.Errorf("after Remove(%s): Act(%s) = %s, want %s", s.remove, s.msg, got, s.want)
		}
	}
}

// TestAddRemovable: the function AddRemovable returns removes the handler
// it added and no other, wherever later adds have put it.
func TestAddRemovable(t *testing.T) {
	act := func(e *stoa.Engine, msg string) string {
		out, err := e.Act(t.Context(), msg)
		if err != nil {
			return err.(*stoa.Error).Code
		}
		return string(out)
	}
	wrap := func(v int) stoa.Handler { // answers {"v":v,"prior":<its prior's reply>}
		return func(ctx context.Context, msg stoa.Msg) (any, error) {
			p, err := stoa.Prior(ctx, msg)
			if err != nil {
				return nil, err
			}
			return map[string]any{"v": v, "prior": p}, nil
		}
	}

	t.Run("still answering", func(t *testing.T) {
		e := stoa.New()
		mustAdd(t, e, "role:x", reply(map[string]int{"v": 1}))
		remove, err := e.AddRemovable("role:x", reply(map[string]int{"v": 2}))
		if err != nil {
			t.Fatal(err)
		}
		if got := act(e, "role:x"); got != `{"v":2}` {
			t.Fatalf("before remove: %s, want {\"v\":2}", got)
		}
		if !remove() {
			t.Error("remove() = false for the handler answering its pattern")
		}
		if got := act(e, "role:x"); got != `{"v":1}` {
			t.Errorf("after remove: %s, want the replaced handler's {\"v\":1}", got)
		}
		if remove() {
			t.Error("second remove() = true")
		}
		if got := act(e, "role:x"); got != `{"v":1}` {
			t.Errorf("after a second remove: %s, want {\"v\":1}", got)
		}
	})

	t.Run("replaced by a later add", func(t *testing.T) {
		e := stoa.New()
		remove, err := e.AddRemovable("role:x", reply(map[string]int{"v": 1}))
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, e, "role:x", wrap(2)) // the user's own handler for the same pattern
		if got := act(e, "role:x"); got != `{"prior":{"v":1},"v":2}` {
			t.Fatalf("before remove: %s", got)
		}
		if !remove() {
			t.Error("remove() = false for a handler still among the priors")
		}
		if got := act(e, "role:x"); got != `{"prior":null,"v":2}` {
			t.Errorf("after remove: %s, want the later handler, with no prior", got)
		}
		if remove() {
			t.Error("second remove() = true")
		}
	})

	t.Run("deep in the priors", func(t *testing.T) {
		e := stoa.New()
		mustAdd(t, e, "role:x", reply(map[string]int{"v": 0}))
		remove, err := e.AddRemovable("role:x", wrap(1))
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, e, "role:x", wrap(2))
		mustAdd(t, e, "role:x", wrap(3))
		if !remove() {
			t.Error("remove() = false")
		}
		if got, want := act(e, "role:x"), `{"prior":{"prior":{"v":0},"v":2},"v":3}`; got != want {
			t.Errorf("after remove: %s, want %s", got, want)
		}
	})

	t.Run("removed by pattern first", func(t *testing.T) {
		e := stoa.New()
		remove, err := e.AddRemovable("role:x,cmd:y", reply(map[string]int{"v": 1}))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := e.Remove("role:x,cmd:y"); !ok || err != nil {
			t.Fatalf("Remove = %v, %v", ok, err)
		}
		mustAdd(t, e, "role:x,cmd:y", reply(map[string]int{"v": 2}))
		if remove() {
			t.Error("remove() = true after Remove took the handler out")
		}
		if got := act(e, "role:x,cmd:y"); got != `{"v":2}` {
			t.Errorf("after remove: %s, want the handler added since", got)
		}
	})

	t.Run("bad pattern", func(t *testing.T) {
		e := stoa.New()
		if remove, err := e.AddRemovable("a:x y", reply(nil)); err == nil || remove != nil {
			t.Errorf("AddRemovable(a:x y) = %v, %v; want an error", remove != nil, err)
		}
	})
}

// TestErrorStatusCode: only a whole number from 400 to 599 in
// Details["statusCode"] is an HTTP status.
func TestErrorStatusCode(t *testing.T) {
	for _, c := range []struct {
		v    any
		code int
		ok   bool
	}{
		{nil, 0, false}, {404, 404, true}, {float64(503), 503, true}, {599.0, 599, true},
		{399, 399, false}, {600.0, 600, false}, {404.5, 0, false}, {"404", 0, false},
	} {
		e := &stoa.Error{Code: stoa.CodeExecute, Details: map[string]any{"statusCode": c.v}}
		if code, ok := e.StatusCode(); code != c.code || ok != c.ok {
			t.Errorf("StatusCode with %#v = %d, %v; want %d, %v", c.v, code, ok, c.code, c.ok)
		}
	}
	if code, ok := (&stoa.Error{}).StatusCode(); ok {
		t.Errorf("StatusCode with no details = %d, true", code)
	}
}
