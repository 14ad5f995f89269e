package gatewaybench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stoaproject/stoa/internal/lambdastub"
)

// The sides that run no Stoa code: the function under a bare Runtime API
// stub, and the claudia app under claudia-local-api.

// stub serves GET /hello/{name} with a net/http handler that invokes the
// function in dir (its bootstrap) under internal/lambdastub: the floor plus
// the function client's own round trip, with no gateway, mesh, worker or
// sandbox. The stub has one environment, so requests take turns.
func (b *Bench) stub(dir string) (string, error) {
	s, err := lambdastub.Start(filepath.Join(dir, "bootstrap"))
	if err != nil {
		return "", err
	}
	b.closers = append(b.closers, func() { s.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		// An event of the gateway's shape, so that the function decodes as much.
		headers := map[string]string{"Host": r.Host}
		multi := map[string][]string{"Host": {r.Host}}
		for k, v := range r.Header {
			headers[k], multi[k] = v[0], v
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ev, err := json.Marshal(events.APIGatewayProxyRequest{Resource: "/hello/{name}", Path: r.URL.Path, HTTPMethod: r.Method,
			Headers: headers, MultiValueHeaders: multi, PathParameters: map[string]string{"name": r.PathValue("name")},
			RequestContext: events.APIGatewayProxyRequestContext{AccountID: "000000000000", ResourceID: "stub", Stage: "prod",
				RequestID: strconv.FormatInt(time.Now().UnixNano(), 36), ResourcePath: "/hello/{name}", HTTPMethod: r.Method,
				APIID: "stub", Path: "/prod" + r.URL.Path, Protocol: r.Proto, RequestTimeEpoch: time.Now().UnixMilli(),
				Identity: events.APIGatewayRequestIdentity{SourceIP: host, UserAgent: r.UserAgent()}}})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		out, err := s.Invoke(r.Context(), ev)
		var resp events.APIGatewayProxyResponse
		if err == nil {
			err = json.Unmarshal(out, &resp)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.WriteString(w, resp.Body)
	})
	return b.serve(&http.Server{Handler: mux})
}

// npmCI installs a directory's pinned npm packages if they are missing.
func npmCI(ctx context.Context, dir, probe string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", probe)); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return nil
}

// claudiaApp returns the directory of the claudia app gateway/test runs,
// its packages installed.
func claudiaApp(ctx context.Context) (string, error) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "gateway", "test", "testdata", "claudia"))
	if err != nil {
		return "", err
	}
	return dir, npmCI(ctx, dir, "claudia-api-builder")
}

// localAPI starts claudia-local-api (pinned in testdata/local-api) on the
// app, and waits until it answers.
func (b *Bench) localAPI(ctx context.Context, app string) (string, error) {
	tools, err := filepath.Abs(filepath.Join("testdata", "local-api"))
	if err != nil {
		return "", err
	}
	if err := npmCI(ctx, tools, "claudia-local-api"); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("node", filepath.Join(tools, "node_modules", "claudia-local-api", "bin", "claudia-local-api"),
		"--api-module", "app.js", "--port", strconv.Itoa(port))
	cmd.Dir = app
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	b.closers = append(b.closers, func() { cmd.Process.Kill(); cmd.Wait() })
	// It logs (bunyan, JSON lines) "Server listening on PORT" just after
	// calling listen, before the bind completes, then every request and
	// reply, which are discarded.
	listening := make(chan bool, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "Server listening on") {
				found = true
				listening <- true
			}
		}
		if !found {
			listening <- false
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-listening:
		if !ok {
			return "", errors.New("claudia-local-api exited before listening")
		}
	case <-ctx.Done():
		return "", ctx.Err()
	}
	// The bind follows the line within moments; claudia-local-api gives no
	// other sign of it than the port accepting.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("claudia-local-api exited: %w", err)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
