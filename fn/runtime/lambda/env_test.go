package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestEchoColdThenWarm(t *testing.T) {
	logs := newLogSink()
	e := start(t, Config{Bundle: echoBundle, Log: logs, FunctionVersion: "7"})
	for i, want := range []bool{true, false, false} {
		payload := []byte(`{"n":` + string(rune('0'+i)) + `}`)
		res, err := e.Invoke(t.Context(), payload, InvokeOpts{RequestID: "req-" + string(rune('a'+i))})
		if err != nil {
			t.Fatalf("Invoke %d: %v", i, err)
		}
		if !bytes.Equal(res.Payload, payload) || res.FunctionError != "" {
			t.Errorf("Invoke %d = %q (error %q), want %q", i, res.Payload, res.FunctionError, payload)
		}
		if res.Cold != want {
			t.Errorf("Invoke %d: Cold = %v, want %v", i, res.Cold, want)
		}
		if want && res.InitDuration <= 0 {
			t.Errorf("cold invoke: InitDuration = %v, want > 0", res.InitDuration)
		}
	}
	if got := e.Stats(); got != (Stats{Invocations: 3, ColdStarts: 1, WarmStarts: 2}) {
		t.Errorf("Stats() = %+v", got)
	}
	lines := logs.waitFor(t, "REPORT RequestId: req-c")
	var starts, ends, reports []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "START "):
			starts = append(starts, l)
		case strings.HasPrefix(l, "END "):
			ends = append(ends, l)
		case strings.HasPrefix(l, "REPORT "):
			reports = append(reports, l)
		}
	}
	if len(starts) != 3 || len(ends) != 3 || len(reports) != 3 {
		t.Fatalf("want 3 START/END/REPORT lines, got %q", lines)
	}
	if starts[0] != "START RequestId: req-a Version: 7\n" || ends[0] != "END RequestId: req-a\n" {
		t.Errorf("START/END = %q, %q", starts[0], ends[0])
	}
	for i, r := range reports {
		fields := strings.Split(strings.TrimSuffix(r, "\n"), "\t")
		hasInit := strings.HasPrefix(fields[1], "Init Duration: ")
		if hasInit != (i == 0) {
			t.Errorf("REPORT %d %q: Init Duration present = %v, want %v", i, r, hasInit, i == 0)
		}
		if !strings.Contains(r, "\tMemory Size: 128 MB\tMax Memory Used: ") || !strings.Contains(r, "Billed Duration: ") || !strings.HasSuffix(r, " MB\t\n") {
			t.Errorf("REPORT %d = %q", i, r)
		}
	}
}

func TestEnvironmentIsCleanAndComplete(t *testing.T) {
	t.Setenv("STOA_HOST_SECRET", "leak")
	e := start(t, Config{Bundle: probeBundle, FunctionName: "probe", FunctionVersion: "3", MemoryMB: 256,
		Env: map[string]string{"GREETING": "hello"}})
	res, err := e.Invoke(t.Context(), []byte(`{"op":"env"}`), InvokeOpts{
		RequestID: "11111111-2222-3333-4444-555555555555", ClientContext: `{"custom":{"k":"v"}}`, TraceID: "Root=1-5e1b4151-5ac6c58f3375aa3c7c1e1b2e;Sampled=1"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Env          []string          `json:"env"`
		UID          int               `json:"uid"`
		Cwd          string            `json:"cwd"`
		NoFile       uint64            `json:"nofile"`
		RequestID    string            `json:"requestId"`
		ARN          string            `json:"arn"`
		ClientCtx    map[string]string `json:"clientCtx"`
		DeadlineInMs int64             `json:"deadlineInMs"`
		TraceID      string            `json:"traceId"`
	}
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("%s: %v", res.Payload, err)
	}
	env := map[string]string{}
	for _, kv := range got.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k := range env {
		if k == "STOA_HOST_SECRET" || k == "HOME" || k == "GOPATH" {
			t.Errorf("host variable %s leaked into the function's environment", k)
		}
	}
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "probe", "AWS_LAMBDA_FUNCTION_VERSION": "3", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/probe", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
		"TZ": ":UTC", "LANG": "en_US.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin", "GREETING": "hello",
		"_X_AMZN_TRACE_ID": "Root=1-5e1b4151-5ac6c58f3375aa3c7c1e1b2e;Sampled=1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_LOG_STREAM_NAME"} {
		if env[k] == "" {
			t.Errorf("env %s missing", k)
		}
	}
	if got.Cwd != env["LAMBDA_TASK_ROOT"] {
		t.Errorf("cwd = %q, want LAMBDA_TASK_ROOT %q", got.Cwd, env["LAMBDA_TASK_ROOT"])
	}
	if got.RequestID != "11111111-2222-3333-4444-555555555555" || got.ARN != "arn:aws:lambda:us-east-1:000000000000:function:probe" {
		t.Errorf("lambda context: request id %q, arn %q", got.RequestID, got.ARN)
	}
	if got.ClientCtx["k"] != "v" || got.TraceID != want["_X_AMZN_TRACE_ID"] {
		t.Errorf("client context %v, trace id %q", got.ClientCtx, got.TraceID)
	}
	if got.DeadlineInMs <= 0 || got.DeadlineInMs > 3000 {
		t.Errorf("deadline in %d ms, want within the 3 s timeout", got.DeadlineInMs)
	}
	if got.NoFile != MaxFiles {
		t.Errorf("RLIMIT_NOFILE = %d, want %d", got.NoFile, MaxFiles)
	}
	if probeHost().root {
		if got.UID == 0 {
			t.Error("function runs as root; want its own uid")
		}
		if env["LAMBDA_TASK_ROOT"] != "/var/task" {
			t.Errorf("LAMBDA_TASK_ROOT = %q, want /var/task", env["LAMBDA_TASK_ROOT"])
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Bundle"},
		{Config{Bundle: t.TempDir()}, "no executable bootstrap"},
		{Config{Bundle: echoBundle, Runtime: "python"}, "Runtime=python"},
		{Config{Bundle: nodeBundle, Runtime: RuntimeNode}, "Handler"},
		{Config{Bundle: echoBundle, Env: map[string]string{"AWS_LAMBDA_RUNTIME_API": "x"}}, "reserved"},
		{Config{Bundle: echoBundle, MemoryMB: 1}, "MemoryMB"},
	} {
		_, err := Start(t.Context(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Start(%+v) = %v, want an error naming %q", c.cfg, err, c.want)
		}
	}
}

func TestFunctionErrorKeepsEnvWarm(t *testing.T) {
	e := start(t, Config{Bundle: probeBundle})
	res, err := e.Invoke(t.Context(), []byte(`{"op":"error"}`), InvokeOpts{})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if res.FunctionError != "Unhandled" || res.ErrorType != "CustomError" {
		t.Errorf("FunctionError, ErrorType = %q, %q; want Unhandled, CustomError", res.FunctionError, res.ErrorType)
	}
	if string(res.Payload) != `{"errorMessage":"something went wrong","errorType":"CustomError"}` {
		t.Errorf("Payload = %s, want the posted body verbatim", res.Payload)
	}
	if e.Err() != nil {
		t.Fatalf("Err() = %v after a function error, want a warm environment", e.Err())
	}
	if m, _ := call(t, e, `{"x":1}`); m["x"] != 1.0 {
		t.Errorf("next invoke = %v", m)
	}
}

func TestStreamedErrorInTrailers(t *testing.T) {
	e := start(t, Config{Bundle: probeBundle})
	res, err := e.Invoke(t.Context(), []byte(`{"op":"badreader"}`), InvokeOpts{})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if res.FunctionError != "Unhandled" || res.ErrorType != "errorString" || !bytes.Contains(res.Payload, []byte("stream broke")) {
		t.Errorf("= %q %q %s; want the error declared in the trailers", res.FunctionError, res.ErrorType, res.Payload)
	}
}

// A panicking, exiting or timed-out environment is discarded, and a new one works.
func TestDiscardAndRecover(t *testing.T) {
	cases := []struct {
		name, event string
		timeout     time.Duration
		want        *Error
		payload     string
	}{
		{"panic", `{"op":"panic"}`, 0, ErrExited, `"errorType":"string"`},
		{"exit", `{"op":"exit","n":3}`, 0, ErrExited, "Runtime exited with error: exit status 3"},
		{"timeout", `{"op":"sleep","n":5000}`, time.Second, ErrTimeout, "Task timed out after 1.00 seconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			logs := newLogSink()
			e := start(t, Config{Bundle: probeBundle, Timeout: c.timeout, Log: logs})
			pid := e.proc.pid
			t0 := time.Now()
			res, err := e.Invoke(t.Context(), []byte(c.event), InvokeOpts{RequestID: "r-" + c.name})
			if !errors.Is(err, c.want) {
				t.Fatalf("Invoke(%s) error = %v, want %v", c.event, err, c.want)
			}
			if res == nil || res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), c.payload) {
				t.Fatalf("Invoke(%s) result = %+v, want payload with %q", c.event, res, c.payload)
			}
			if c.want == ErrTimeout {
				if el := time.Since(t0); el > c.timeout+2*time.Second {
					t.Errorf("timeout took %v", el)
				}
				if !strings.Contains(err.Error(), "Task timed out after 1.00 seconds") {
					t.Errorf("error text %q", err)
				}
				logs.waitFor(t, "REPORT RequestId: r-timeout")
			}
			if e.Err() == nil {
				t.Fatal("Err() = nil; want the environment reported dead")
			}
			select {
			case <-e.Done():
			default:
				t.Error("Done() not closed")
			}
			<-e.proc.exited
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("runtime pid %d still there: %v", pid, err)
			}
			if _, err := e.Invoke(t.Context(), []byte(`{}`), InvokeOpts{}); !errors.Is(err, ErrEnvDead) {
				t.Errorf("Invoke on a dead env: %v, want ErrEnvDead", err)
			}
			fresh := start(t, Config{Bundle: probeBundle})
			if m, _ := call(t, fresh, `{"ok":true}`); m["ok"] != true {
				t.Errorf("fresh env answered %v", m)
			}
		})
	}
}

func TestInitFailure(t *testing.T) {
	logs := newLogSink()
	_, err := Start(t.Context(), Config{Bundle: probeBundle, Dir: testDir, Env: map[string]string{"PROBE_INIT_EXIT": "3"}, Log: logs})
	var le *Error
	if !errors.As(err, &le) || !errors.Is(err, ErrInitFailed) || le.Type != "Runtime.ExitError" || !strings.Contains(le.Message, "exit status 3") {
		t.Fatalf("Start = %v, want an init failure with exit status 3", err)
	}
	logs.waitFor(t, "probe: failing init on purpose")
}

func TestBusy(t *testing.T) {
	e := start(t, Config{Bundle: probeBundle})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Invoke(t.Context(), []byte(`{"op":"sleep","n":1000}`), InvokeOpts{})
		}()
	}
	wg.Wait()
	busy := 0
	for _, err := range errs {
		if errors.Is(err, ErrEnvBusy) {
			busy++
		} else if err != nil {
			t.Errorf("Invoke: %v", err)
		}
	}
	if busy != 1 {
		t.Errorf("%d of 2 concurrent invokes refused as busy, want 1 (%v)", busy, errs)
	}
}

func TestPayloadCaps(t *testing.T) {
	e := start(t, Config{Bundle: probeBundle, Timeout: 30 * time.Second}) // 6 MB under -race on a busy machine
	// The request cap is exact: MaxPayload bytes pass, one more is refused.
	ok := make([]byte, MaxPayload)
	copy(ok, `"`)
	for i := 1; i < len(ok)-1; i++ {
		ok[i] = 'a'
	}
	ok[len(ok)-1] = '"'
	res, err := e.Invoke(t.Context(), ok, InvokeOpts{})
	if err != nil || len(res.Payload) != MaxPayload {
		t.Fatalf("Invoke(%d bytes) = %v; want it echoed", len(ok), err)
	}
	over := append(ok, ' ')
	if _, err := e.Invoke(t.Context(), over, InvokeOpts{}); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("Invoke(%d bytes) = %v, want ErrRequestTooLarge", len(over), err)
	}
	if e.Err() != nil || e.Stats().Invocations != 1 {
		t.Fatalf("a refused request touched the environment: Err %v, %+v", e.Err(), e.Stats())
	}
	// Responses: exactly the cap passes ("x"*n in quotes is n+2 bytes).
	res, err = e.Invoke(t.Context(), []byte(`{"op":"big","n":`+strconv.Itoa(MaxPayload-2)+`}`), InvokeOpts{})
	if err != nil || len(res.Payload) != MaxPayload {
		t.Fatalf("response of MaxPayload bytes: %v", err)
	}
	res, err = e.Invoke(t.Context(), []byte(`{"op":"big","n":`+strconv.Itoa(MaxPayload-1)+`}`), InvokeOpts{})
	if !errors.Is(err, ErrResponseTooLarge) || res.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Fatalf("response of MaxPayload+1 bytes: %v, %+v", err, res)
	}
	if e.Err() == nil {
		t.Error("environment kept after an oversized response")
	}

	// The caps are configurable.
	small := start(t, Config{Bundle: probeBundle, MaxRequestBytes: 100, MaxResponseBytes: 50})
	if _, err := small.Invoke(t.Context(), bytes.Repeat([]byte(" "), 101), InvokeOpts{}); !errors.Is(err, ErrRequestTooLarge) {
		t.Errorf("101 bytes over a 100-byte cap: %v", err)
	}
	if _, err := small.Invoke(t.Context(), []byte(`{"op":"big","n":60}`), InvokeOpts{}); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("62-byte answer over a 50-byte cap: %v", err)
	}
}

func TestLogsKeepOrder(t *testing.T) {
	logs := newLogSink()
	e := start(t, Config{Bundle: probeBundle, Log: logs})
	if _, err := e.Invoke(t.Context(), []byte(`{"op":"print","data":"hello from the function"}`), InvokeOpts{RequestID: "log-1"}); err != nil {
		t.Fatal(err)
	}
	lines := logs.waitFor(t, "REPORT RequestId: log-1")
	var seq []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "START RequestId: log-1"):
			seq = append(seq, "START")
		case l == "hello from the function\n":
			seq = append(seq, "out")
		case strings.HasPrefix(l, "END RequestId: log-1"):
			seq = append(seq, "END")
		case strings.HasPrefix(l, "REPORT RequestId: log-1"):
			seq = append(seq, "REPORT")
		}
	}
	if got := strings.Join(seq, ","); got != "START,out,out,END,REPORT" {
		t.Errorf("log order %s; lines %q", got, lines)
	}
}

// TestHammerInvokeAndClose invokes from several goroutines at once and
// closes the environment under them: every call returns, with an answer or
// one of the documented errors, and nothing deadlocks.
func TestHammerInvokeAndClose(t *testing.T) {
	e, err := Start(t.Context(), Config{Bundle: probeBundle, Dir: testDir})
	if err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ { // until Close kills the environment
				res, err := e.Invoke(t.Context(), []byte(`{"g":1}`), InvokeOpts{})
				switch {
				case err == nil:
					if string(res.Payload) != `{"g":1}` {
						t.Errorf("answer %s", res.Payload)
					}
					if ok.Add(1) == 100 {
						go e.Close()
					}
				case errors.Is(err, ErrEnvBusy):
					runtime.Gosched()
				case errors.Is(err, ErrEnvDead), errors.Is(err, ErrExited):
					if ok.Load() < 100 {
						t.Errorf("environment died before Close: %v", err)
					}
					return
				default:
					t.Errorf("Invoke: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if ok.Load() < 100 {
		t.Errorf("%d invocations answered, want at least 100", ok.Load())
	}
	if _, err := e.Invoke(t.Context(), []byte(`{}`), InvokeOpts{}); !errors.Is(err, ErrEnvDead) {
		t.Errorf("Invoke after Close: %v, want ErrEnvDead", err)
	}
}
