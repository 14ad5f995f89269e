// probe: an aws-lambda-go function whose event picks a behaviour, so that one
// bootstrap exercises every limit and failure of the process runtime.
//
//	{}                            returns the event unchanged
//	{"op":"error"}                returns a *CustomError
//	{"op":"panic"}                panics (aws-lambda-go posts the error, then exits 1)
//	{"op":"exit","n":N}           os.Exit(N) without answering
//	{"op":"sleep","n":MS}         sleeps MS milliseconds, then answers
//	{"op":"big","n":BYTES}        answers a JSON string of BYTES 'x'
//	{"op":"mem","n":MB}           allocates and touches MB MiB, then answers
//	{"op":"fds","n":N}            opens /dev/null N times, says how many opened
//	{"op":"procs","n":N}          starts N `sleep 60` processes (left running), says how many started
//	{"op":"threads","n":N}        pins N goroutines to OS threads
//	{"op":"fill","n":MB}          writes MB MiB into /tmp/fill, says how far it got
//	{"op":"write","path":P,"data":D} writes D into P
//	{"op":"read","path":P}        reads P, answers its content or the error
//	{"op":"env"}                  answers environment, ids, limits and context
//	{"op":"print","data":D}       prints D to stdout and stderr, then answers
//	{"op":"http","path":URL}      GETs URL (1 s timeout), answers the status or the error
//	{"op":"badreader"}            answers an io.Reader that fails mid-stream
//
// PROBE_INIT_EXIT=N in the environment makes it exit with N before it starts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op   string `json:"op"`
	N    int    `json:"n"`
	Path string `json:"path"`
	Data string `json:"data"`
}

// CustomError is a handler error with a type name of its own.
type CustomError struct{ Msg string }

func (e *CustomError) Error() string { return e.Msg }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("stream broke") }

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	_ = json.Unmarshal(raw, &ev)
	switch ev.Op {
	case "error":
		return nil, &CustomError{Msg: "something went wrong"}
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(ev.N)
	case "sleep":
		time.Sleep(time.Duration(ev.N) * time.Millisecond)
		return map[string]int{"slept": ev.N}, nil
	case "big":
		return strings.Repeat("x", ev.N), nil
	case "mem":
		var keep [][]byte
		for i := 0; i < ev.N; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		return map[string]int{"allocatedMB": len(keep)}, nil
	case "fds":
		var fs []*os.File
		defer func() {
			for _, f := range fs {
				f.Close()
			}
		}()
		for i := 0; i < ev.N; i++ {
			f, err := os.Open(os.DevNull)
			if err != nil {
				return map[string]any{"opened": i, "err": err.Error()}, nil
			}
			fs = append(fs, f)
		}
		return map[string]any{"opened": ev.N}, nil
	case "procs":
		// Each child's pidfd is released at once, so that the count is
		// bounded by the process limit, not by the file descriptor limit.
		for i := 0; i < ev.N; i++ {
			c := exec.Command("sleep", "60")
			if err := c.Start(); err != nil {
				return map[string]any{"started": i, "err": err.Error()}, nil
			}
			c.Process.Release()
		}
		return map[string]any{"started": ev.N}, nil
	case "threads":
		block := make(chan struct{})
		defer close(block)
		started := make(chan struct{})
		for i := 0; i < ev.N; i++ {
			go func() { runtime.LockOSThread(); started <- struct{}{}; <-block }()
			<-started
		}
		return map[string]int{"threads": ev.N}, nil
	case "fill":
		f, err := os.Create("/tmp/fill")
		if err != nil {
			return map[string]any{"written": 0, "err": err.Error()}, nil
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for i := 0; i < ev.N; i++ {
			if _, err := f.Write(buf); err != nil {
				return map[string]any{"written": i, "err": err.Error()}, nil
			}
		}
		if err := f.Sync(); err != nil {
			return map[string]any{"written": ev.N, "err": err.Error()}, nil
		}
		return map[string]any{"written": ev.N}, nil
	case "write":
		if err := os.WriteFile(ev.Path, []byte(ev.Data), 0o600); err != nil {
			return map[string]string{"err": err.Error()}, nil
		}
		return map[string]string{"wrote": ev.Path}, nil
	case "read":
		b, err := os.ReadFile(ev.Path)
		if err != nil {
			return map[string]string{"err": err.Error()}, nil
		}
		return map[string]string{"data": string(b)}, nil
	case "env":
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		env := os.Environ()
		sort.Strings(env)
		cwd, _ := os.Getwd()
		var nofile, nproc syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
		syscall.Getrlimit(6, &nproc) // RLIMIT_NPROC
		return map[string]any{
			"env":          env,
			"uid":          os.Getuid(),
			"gid":          os.Getgid(),
			"cwd":          cwd,
			"nofile":       nofile.Max,
			"nproc":        nproc.Max,
			"requestId":    lc.AwsRequestID,
			"arn":          lc.InvokedFunctionArn,
			"clientCtx":    lc.ClientContext.Custom,
			"deadlineInMs": time.Until(dl).Milliseconds(),
			"traceId":      ctx.Value("x-amzn-trace-id"),
		}, nil
	case "http":
		c := &http.Client{Timeout: time.Second}
		resp, err := c.Get(ev.Path)
		if err != nil {
			return map[string]string{"err": err.Error()}, nil
		}
		resp.Body.Close()
		return map[string]int{"status": resp.StatusCode}, nil
	case "badreader":
		return io.MultiReader(strings.NewReader("partial"), errReader{}), nil
	case "print":
		fmt.Println(ev.Data)
		fmt.Fprintln(os.Stderr, ev.Data)
		return "printed", nil
	}
	return raw, nil
}

func main() {
	if s := os.Getenv("PROBE_INIT_EXIT"); s != "" {
		n, _ := strconv.Atoi(s)
		fmt.Println("probe: failing init on purpose")
		os.Exit(n)
	}
	lambda.Start(handle)
}
