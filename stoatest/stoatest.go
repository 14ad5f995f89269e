// Package stoatest checks that an engine behaves as the act engine does,
// wherever its handlers run. The same suite runs on a local Engine, through
// the HTTP transport and across the mesh, so that a caller cannot tell
// local from remote.
package stoatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
)

// Connect returns the engine the suite acts through, connected to server,
// on which the suite has already added its patterns. For a local engine it
// returns server itself; for a transport, an engine with a client attached.
// It registers its own cleanup with t.
type Connect func(t *testing.T, server *stoa.Engine) (caller *stoa.Engine)

// SumIn and SumOut are the typed handler's message and reply.
type SumIn struct {
	Left  float64 `json:"left"`
	Right float64 `json:"right"`
}

// SumOut is the typed handler's reply.
type SumOut struct {
	Answer float64 `json:"answer"`
}

// Patterns adds the suite's patterns to e. Run calls it; it is exported
// for transports whose servers must have their patterns before they start.
func Patterns(e *stoa.Engine) error {
	adds := []struct {
		pattern any
		h       stoa.Handler
	}{
		{"role:suite,cmd:echo", func(ctx context.Context, m stoa.Msg) (any, error) {
			return map[string]any{"echo": m["say"]}, nil
		}},
		{"role:suite,cmd:pick", func(ctx context.Context, m stoa.Msg) (any, error) {
			return map[string]any{"picked": "general"}, nil
		}},
		{"role:suite,cmd:pick,x:1", func(ctx context.Context, m stoa.Msg) (any, error) {
			return map[string]any{"picked": "specific"}, nil
		}},
		{"role:suite,cmd:sum", stoa.Handle(func(ctx context.Context, in SumIn) (SumOut, error) {
			return SumOut{Answer: in.Left + in.Right}, nil
		})},
		{"role:suite,cmd:fail", func(ctx context.Context, m stoa.Msg) (any, error) {
			return nil, errors.New("the handler failed on purpose")
		}},
		{"role:suite,cmd:panic", func(ctx context.Context, m stoa.Msg) (any, error) {
			panic("the handler panicked on purpose")
		}},
		{"role:suite,cmd:slow", func(ctx context.Context, m stoa.Msg) (any, error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return map[string]any{"late": true}, nil
			}
		}},
		{map[string]any{"role": "suite", "cmd": "valid", "left": stoa.Number}, func(ctx context.Context, m stoa.Msg) (any, error) {
			return map[string]any{"ok": true}, nil
		}},
		{"role:suite,cmd:string", func(ctx context.Context, m stoa.Msg) (any, error) {
			return "just a string", nil
		}},
		{"role:suite,cmd:list", func(ctx context.Context, m stoa.Msg) (any, error) {
			return []int{1, 2, 3}, nil
		}},
		{"role:suite,cmd:nothing", func(ctx context.Context, m stoa.Msg) (any, error) {
			return nil, nil
		}},
		{"role:suite,cmd:meta", func(ctx context.Context, m stoa.Msg) (any, error) {
			return stoa.ContextMeta(ctx), nil
		}},
	}
	for _, a := range adds {
		if err := e.Add(a.pattern, a.h); err != nil {
			return fmt.Errorf("add %v: %w", a.pattern, err)
		}
	}
	return nil
}

// Run runs the suite: it makes a server engine, adds the suite's patterns,
// connects a caller with connect and checks every observable behaviour.
func Run(t *testing.T, connect Connect) {
	server := stoa.New(stoa.WithTimeout(5 * time.Second))
	t.Cleanup(func() { server.Close(context.Background()) })
	if err := Patterns(server); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, server)

	act := func(t *testing.T, msg any) (json.RawMessage, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return caller.Act(ctx, msg)
	}
	wantCode := func(t *testing.T, err error, code string) *stoa.Error {
		t.Helper()
		var se *stoa.Error
		if !errors.As(err, &se) {
			t.Fatalf("error = %v (%T), want a *stoa.Error with code %s", err, err, code)
		}
		if se.Code != code {
			t.Fatalf("error code = %q (%v), want %q", se.Code, err, code)
		}
		if !errors.Is(err, &stoa.Error{Code: code}) {
			t.Errorf("errors.Is(err, code %s) = false", code)
		}
		return se
	}
	wantJSON := func(t *testing.T, got json.RawMessage, want string) {
		t.Helper()
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("reply %s is not JSON: %v", got, err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatalf("bad want %s: %v", want, err)
		}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("reply = %s, want %s", gb, wb)
		}
	}

	t.Run("reply", func(t *testing.T) {
		out, err := act(t, stoa.Msg{"role": "suite", "cmd": "echo", "say": "hello"})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `{"echo":"hello"}`)
	})
	t.Run("string message", func(t *testing.T) {
		out, err := act(t, "role:suite,cmd:echo,say:'hi there'")
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `{"echo":"hi there"}`)
	})
	t.Run("most specific wins", func(t *testing.T) {
		out, err := act(t, stoa.Msg{"role": "suite", "cmd": "pick", "x": 1})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `{"picked":"specific"}`)
		out, err = act(t, stoa.Msg{"role": "suite", "cmd": "pick", "x": 2})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `{"picked":"general"}`)
	})
	t.Run("typed handler", func(t *testing.T) {
		got, err := stoa.Call[SumOut](t.Context(), caller, SumIn{Left: 1, Right: 2})
		if err == nil {
			t.Fatalf("a message without role and cmd answered %+v", got)
		}
		got, err = stoa.Call[SumOut](t.Context(), caller, stoa.Msg{"role": "suite", "cmd": "sum", "left": 1.5, "right": 2})
		if err != nil {
			t.Fatal(err)
		}
		if got.Answer != 3.5 {
			t.Errorf("sum = %v, want 3.5", got.Answer)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := act(t, stoa.Msg{"role": "suite", "cmd": "missing"})
		se := wantCode(t, err, stoa.CodeNotFound)
		if !errors.Is(err, stoa.ErrNotFound) {
			t.Error("errors.Is(err, ErrNotFound) = false")
		}
		if !strings.Contains(se.Message, "missing") {
			t.Errorf("message %q does not show the message that was not matched", se.Message)
		}
	})
	t.Run("default$ when not found", func(t *testing.T) {
		out, err := act(t, stoa.Msg{"role": "suite", "cmd": "missing", "default$": map[string]any{"d": 1}})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `{"d":1}`)
	})
	t.Run("handler error", func(t *testing.T) {
		_, err := act(t, stoa.Msg{"role": "suite", "cmd": "fail"})
		se := wantCode(t, err, stoa.CodeExecute)
		if !strings.Contains(se.Message, "the handler failed on purpose") {
			t.Errorf("message %q does not carry the handler's error", se.Message)
		}
		if se.Pattern != "cmd:fail,role:suite" {
			t.Errorf("pattern = %q, want cmd:fail,role:suite", se.Pattern)
		}
	})
	t.Run("panic", func(t *testing.T) {
		_, err := act(t, stoa.Msg{"role": "suite", "cmd": "panic"})
		se := wantCode(t, err, stoa.CodeExecute)
		if !strings.Contains(se.Message, "panicked on purpose") {
			t.Errorf("message %q does not say what panicked", se.Message)
		}
		if _, err := act(t, stoa.Msg{"role": "suite", "cmd": "echo"}); err != nil {
			t.Errorf("act after a panic: %v", err)
		}
	})
	t.Run("timeout$", func(t *testing.T) {
		start := time.Now()
		_, err := act(t, stoa.Msg{"role": "suite", "cmd": "slow", "timeout$": 100})
		wantCode(t, err, stoa.CodeTimeout)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("timed out after %v, want about 100ms", d)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := caller.Act(ctx, stoa.Msg{"role": "suite", "cmd": "slow"})
		wantCode(t, err, stoa.CodeTimeout)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("timed out after %v, want about 100ms", d)
		}
	})
	t.Run("invalid message", func(t *testing.T) {
		_, err := act(t, stoa.Msg{"role": "suite", "cmd": "valid", "left": "one"})
		wantCode(t, err, stoa.CodeInvalidMsg)
		out, err := act(t, stoa.Msg{"role": "suite", "cmd": "valid", "left": 1})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `{"ok":true}`)
	})
	t.Run("result not object or array", func(t *testing.T) {
		_, err := act(t, stoa.Msg{"role": "suite", "cmd": "string"})
		wantCode(t, err, stoa.CodeResult)
	})
	t.Run("array and null replies", func(t *testing.T) {
		out, err := act(t, stoa.Msg{"role": "suite", "cmd": "list"})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `[1,2,3]`)
		out, err = act(t, stoa.Msg{"role": "suite", "cmd": "nothing"})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, out, `null`)
	})
	t.Run("metadata", func(t *testing.T) {
		const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		ctx := stoa.WithMeta(t.Context(), stoa.Meta{TraceParent: tp})
		out, err := caller.Act(ctx, stoa.Msg{"role": "suite", "cmd": "meta"})
		if err != nil {
			t.Fatal(err)
		}
		var m stoa.Meta
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		if m.ID == "" || m.TxID == "" || m.Caller == "" {
			t.Errorf("meta %+v lacks an id, a transaction id or a caller", m)
		}
		if m.TraceParent != tp {
			t.Errorf("traceparent = %q, want %q", m.TraceParent, tp)
		}
		out2, err := caller.Act(t.Context(), stoa.Msg{"role": "suite", "cmd": "meta"})
		if err != nil {
			t.Fatal(err)
		}
		var m2 stoa.Meta
		json.Unmarshal(out2, &m2)
		if m2.ID == m.ID {
			t.Errorf("two acts share the id %q", m.ID)
		}
	})
	t.Run("concurrent acts", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Go(func() {
				got, err := stoa.Call[SumOut](t.Context(), caller, stoa.Msg{"role": "suite", "cmd": "sum", "left": i, "right": 1})
				if err != nil {
					errs <- err
					return
				}
				if got.Answer != float64(i+1) {
					errs <- fmt.Errorf("sum(%d, 1) = %v", i, got.Answer)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
