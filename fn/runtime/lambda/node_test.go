package lambda

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needNode skips when there is no node binary, saying how to get one.
func needNode(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		tb.Skip("node not in PATH (Debian package nodejs); the Node bootstrap tests need it")
	}
}

func startNode(t *testing.T, handler string, logs *logSink) *Env {
	t.Helper()
	cfg := Config{Bundle: nodeBundle, Runtime: RuntimeNode, Handler: handler, FunctionName: "nodefn", MemoryMB: 256}
	if logs != nil {
		cfg.Log = logs
	}
	return start(t, cfg)
}

func TestNodeHandlers(t *testing.T) {
	needNode(t)
	cases := []struct {
		handler, event string
		want           string // exact answer, or the error type when fnErr
		fnErr          bool
	}{
		{"handlers.async", `{"a":1}`, `"via":"async"`, false},
		{"handlers.callback", `{}`, `{"via":"callback"}`, false},
		{"handlers.done", `{}`, `{"via":"done"}`, false},
		{"handlers.succeed", `{}`, `{"via":"succeed"}`, false},
		{"handlers.fail", `{}`, "Error", true},
		{"handlers.callbackError", `{}`, "string", true},
		{"handlers.throws", `{}`, "TypeError", true},
		{"handlers.rejects", `{}`, "RangeError", true},
		{"handlers.undef", `{}`, `null`, false},
		{"handlers.nested.deeper", `{}`, `"nested"`, false},
		{"esm.handler", `{"b":2}`, `{"via":"esm","event":{"b":2}}`, false},
		{"sub/deep.handler", `{}`, `"deep"`, false},
	}
	for _, c := range cases {
		t.Run(c.handler, func(t *testing.T) {
			t.Parallel()
			e := startNode(t, c.handler, nil)
			for i := 0; i < 2; i++ { // twice: the environment stays warm either way
				res, err := e.Invoke(t.Context(), []byte(c.event), InvokeOpts{RequestID: "node-req"})
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				if c.fnErr {
					if res.FunctionError != "Unhandled" || res.ErrorType != c.want {
						t.Errorf("error %q type %q (%s), want type %q", res.FunctionError, res.ErrorType, res.Payload, c.want)
					}
					var body struct {
						Type    string   `json:"errorType"`
						Message string   `json:"errorMessage"`
						Trace   []string `json:"trace"`
					}
					if err := json.Unmarshal(res.Payload, &body); err != nil || body.Message == "" {
						t.Errorf("error body %s: %v", res.Payload, err)
					}
				} else if res.FunctionError != "" || !strings.Contains(string(res.Payload), c.want) {
					t.Errorf("answer %s (error %q), want %s", res.Payload, res.FunctionError, c.want)
				}
			}
			if e.Err() != nil {
				t.Errorf("Err() = %v; a handled error keeps the environment", e.Err())
			}
		})
	}
}

func TestNodeFatal(t *testing.T) {
	needNode(t)
	for _, c := range []struct{ handler, errType, exit string }{
		{"handlers.unhandled", "Runtime.UnhandledPromiseRejection", "exit status 128"},
		{"handlers.uncaught", "Error", "exit status 129"},
	} {
		t.Run(c.handler, func(t *testing.T) {
			t.Parallel()
			e := startNode(t, c.handler, nil)
			res, err := e.Invoke(t.Context(), []byte(`{}`), InvokeOpts{})
			var le *Error
			if !errors.As(err, &le) || !errors.Is(err, ErrExited) || !strings.Contains(le.Message, c.exit) {
				t.Fatalf("Invoke: %v; want ErrExited with %s", err, c.exit)
			}
			if res.ErrorType != c.errType || !strings.Contains(string(res.Payload), c.errType) {
				t.Errorf("result type %q payload %s; want the posted %s error", res.ErrorType, res.Payload, c.errType)
			}
			if e.Err() == nil {
				t.Error("environment not discarded")
			}
		})
	}
}

func TestNodeInitErrors(t *testing.T) {
	needNode(t)
	for _, c := range []struct{ handler, errType string }{
		{"handlers.missing", "Runtime.HandlerNotFound"},
		{"nofile.handler", "Runtime.ImportModuleError"},
		{"syntax.handler", "Runtime.UserCodeSyntaxError"},
		{"throwsAtLoad.handler", "Error"},
		{"nodot", "Runtime.MalformedHandlerName"},
	} {
		t.Run(c.handler, func(t *testing.T) {
			t.Parallel()
			_, err := Start(t.Context(), Config{Bundle: nodeBundle, Runtime: RuntimeNode, Handler: c.handler, Dir: testDir})
			var le *Error
			if !errors.As(err, &le) || !errors.Is(err, ErrInitFailed) || le.Type != c.errType {
				t.Fatalf("Start = %v; want an init failure of type %s", err, c.errType)
			}
			if errorTypeOf(le.Payload) != c.errType {
				t.Errorf("init error body %s", le.Payload)
			}
		})
	}
}

func TestNodeCallbackWaitsForEmptyEventLoop(t *testing.T) {
	needNode(t)
	e := startNode(t, "handlers.wait", nil)
	for _, wait := range []bool{true, false} {
		res, err := e.Invoke(t.Context(), []byte(`{"wait":`+mustJSON(wait)+`}`), InvokeOpts{})
		if err != nil || res.FunctionError != "" {
			t.Fatalf("wait=%v: %v %+v", wait, err, res)
		}
		if slow := res.Duration >= 990*time.Millisecond; slow != wait {
			t.Errorf("wait=%v: answered after %v; want waiting for the 1 s timer = %v", wait, res.Duration, wait)
		}
	}
}

func TestNodeContextAndLogs(t *testing.T) {
	needNode(t)
	logs := newLogSink()
	t.Setenv("STOA_HOST_SECRET", "leak")
	e := startNode(t, "handlers.context", logs)
	var got struct {
		FunctionName, FunctionVersion, MemoryLimitInMB, InvokedFunctionArn, LogGroupName string
		Remaining                                                                        int
		Wait                                                                             bool
		ClientContext                                                                    map[string]any
		Env                                                                              []string
	}
	res, err := e.Invoke(t.Context(), []byte(`{}`), InvokeOpts{ClientContext: `{"custom":{"k":"v"}}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("%s: %v", res.Payload, err)
	}
	if got.FunctionName != "nodefn" || got.FunctionVersion != "$LATEST" || got.MemoryLimitInMB != "256" ||
		got.LogGroupName != "/aws/lambda/nodefn" || !strings.HasSuffix(got.InvokedFunctionArn, ":function:nodefn") ||
		got.Remaining <= 0 || got.Remaining > 3000 || !got.Wait || got.ClientContext["custom"] == nil {
		t.Errorf("context = %+v", got)
	}
	for _, k := range got.Env {
		if k == "STOA_HOST_SECRET" || k == "NODE_OPTIONS" || k == "HOME" {
			t.Errorf("host variable %s in the Node environment", k)
		}
	}

	logE := startNode(t, "handlers.log", logs)
	if _, err := logE.Invoke(t.Context(), []byte(`{}`), InvokeOpts{RequestID: "node-log"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Join(logs.waitFor(t, "REPORT RequestId: node-log"), "")
	if !strings.Contains(lines, "hello from node\n") || !strings.Contains(lines, "and stderr\n") {
		t.Errorf("logs %q lack the handler's output", lines)
	}
}
