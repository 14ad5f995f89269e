// Command hellogoodbye is the chapter's first example in Stoa: two
// services, hello on :8082 and goodbye on :8083, each listening on Seneca's
// HTTP wire, and a caller that reaches them through two clients pinned to
// their roles. It prints the three replies, one JSON object a line, then
// keeps serving until stopped (Ctrl-C), so that
//
//	curl -d '{"cmd":"sayHello","role":"hello"}' http://localhost:8082/act
//
// answers {"message":"Hello!"}, and a Node Seneca client can call it too.
// (The chapter's clients point at 8080 and 8081 by mistake; these reach the
// listeners.) Run it with:
//
//	go run ./examples/hellogoodbye [-hello :8082] [-goodbye :8083]
//
// Where each service listens, and that it is serving, goes to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoahttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hellogoodbye:", err)
		os.Exit(1)
	}
}

func message(text string) stoa.Handler {
	return func(context.Context, stoa.Msg) (any, error) {
		return map[string]any{"message": text}, nil
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hellogoodbye", flag.ContinueOnError)
	fs.SetOutput(stderr)
	helloAddr := fs.String("hello", ":8082", "where the hello service listens")
	goodbyeAddr := fs.String("goodbye", ":8083", "where the goodbye service listens")
	if err := fs.Parse(args); err != nil {
		return err
	}

	// The two services, each an engine with its patterns and a listener.
	hello := stoa.New()
	goodbye := stoa.New()
	err := errors.Join(
		hello.Add("role:hello,cmd:sayHello", message("Hello!")),
		goodbye.Add("role:goodbye,cmd:sayGoodbye", message("Goodbye")),
		goodbye.Add("role:goodbye,cmd:reallySayGoodbye", message("Goodbye!!")),
	)
	if err != nil {
		return err
	}
	helloURL, stopHello, err := serve(hello, *helloAddr, "hello", stderr)
	if err != nil {
		return err
	}
	defer stopHello()
	goodbyeURL, stopGoodbye, err := serve(goodbye, *goodbyeAddr, "goodbye", stderr)
	if err != nil {
		return err
	}
	defer stopGoodbye()

	// The caller knows no pattern itself: two clients, pinned to the roles.
	caller := stoa.New()
	defer caller.Close(context.WithoutCancel(ctx))
	if _, err := stoahttp.NewClient(caller, helloURL, stoahttp.WithPins("role:hello")); err != nil {
		return err
	}
	if _, err := stoahttp.NewClient(caller, goodbyeURL, stoahttp.WithPins("role:goodbye")); err != nil {
		return err
	}
	for _, msg := range []string{
		"role:hello,cmd:sayHello",
		"role:goodbye,cmd:sayGoodbye",
		"role:goodbye,cmd:reallySayGoodbye",
	} {
		out, err := caller.Act(ctx, msg)
		if err != nil {
			return fmt.Errorf("act %s: %w", msg, err)
		}
		fmt.Fprintln(stdout, string(out))
	}

	fmt.Fprintln(stderr, "serving until stopped")
	<-ctx.Done()
	return nil
}

// serve starts a listener for e on addr and returns the URL a client on
// this machine reaches it at, and a function that stops it gracefully.
func serve(e *stoa.Engine, addr, name string, stderr io.Writer) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	srv := &stoahttp.Server{Engine: e}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	port := ln.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("http://127.0.0.1:%d/act", port)
	fmt.Fprintf(stderr, "%s listening on %s (%s)\n", name, ln.Addr(), url)
	return url, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
		<-served
		e.Close(ctx)
	}, nil
}
