// Package lambdastub is the least Lambda Runtime API that serves an
// unmodified runtime client (aws-lambda-go, the Node runtime interface
// client): "next" and "response" over net/http, a plain child process with
// no sandbox, limits, logs or timeouts. It is a yardstick for benchmarks:
// what any process runtime pays for a client on a machine, measured beside
// fn/runtime/lambda. It is not a runtime.
package lambdastub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Stub is one runtime process and the Runtime API it talks to. Invoke is
// safe for one caller at a time.
type Stub struct {
	srv    *http.Server
	cmd    *exec.Cmd
	exited chan struct{}
	next   chan invocation
	parked chan struct{} // a token each time the runtime waits in "next"

	mu sync.Mutex // one invocation at a time

	curMu   sync.Mutex
	current invocation // the one delivered, answered by "response"
}

type invocation struct {
	event []byte
	reply chan []byte
}

// Start runs the runtime client at path (a bootstrap) with only the
// Runtime API's address and a function name in its environment.
func Start(path string) (*Stub, error) {
	s := &Stub{exited: make(chan struct{}), next: make(chan invocation), parked: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.serveNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.serveResponse)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(ln)
	s.cmd = exec.Command(path)
	s.cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=stub"}
	if err := s.cmd.Start(); err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("lambdastub: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	return s, nil
}

func (s *Stub) serveNext(w http.ResponseWriter, r *http.Request) {
	select {
	case s.parked <- struct{}{}:
	default:
	}
	select {
	case inv := <-s.next:
		s.curMu.Lock()
		s.current = inv
		s.curMu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", "stub")
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:000000000000:function:stub")
		h.Set("Content-Type", "application/json")
		w.Write(inv.event)
	case <-r.Context().Done():
	}
}

func (s *Stub) serveResponse(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusAccepted)
	s.curMu.Lock()
	reply := s.current.reply
	s.curMu.Unlock()
	reply <- body
}

// WaitParked waits until the runtime waits in "next": an Invoke then
// times an idle runtime, without its turn back from the previous one.
func (s *Stub) WaitParked(ctx context.Context) error {
	select {
	case <-s.parked:
		return nil
	case <-s.exited:
		return errors.New("lambdastub: the runtime exited")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Invoke sends event to the runtime and returns its response body.
func (s *Stub) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.parked: // this invocation takes the runtime's wait: WaitParked waits for its next one
	default:
	}
	reply := make(chan []byte, 1)
	select {
	case s.next <- invocation{event, reply}:
	case <-s.exited:
		return nil, errors.New("lambdastub: the runtime exited")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case out := <-reply:
		return out, nil
	case <-s.exited:
		return nil, errors.New("lambdastub: the runtime exited")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close kills the runtime and stops the server.
func (s *Stub) Close() error {
	s.cmd.Process.Kill()
	<-s.exited
	return s.srv.Close()
}
