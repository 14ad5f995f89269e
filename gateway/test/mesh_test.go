package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// field returns the value of key=value in a "ready ..." line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestMeshOfProcesses runs a mesh as separate processes, as on several
// machines: stoa base (NATS with JetStream), three stoa worker processes
// and stoa gateway, with the functions deployed through the gateway's
// management API (stoa fn --gateway). It is the chapter's scale check for
// real: 300 requests with 10 in flight to one route of the claudia app,
// and the replies come from three environments, one per worker. Then
// bodies of 1.5 and 5 MB cross the mesh to a function and back whole
// (stoa base carries 8 MB messages; NATS's default is 1 MB), and a body
// over 6 MB gets 413.
func TestMeshOfProcesses(t *testing.T) {
	skipIfCannot(t)
	dir := t.TempDir()
	_, lines := start(t, dir, "ready ", "base", "--listen", "127.0.0.1:0", "--http", "", "--jetstream", "--data", filepath.Join(dir, "js"))
	nats := field(lines[len(lines)-1], "nats")
	if !strings.HasPrefix(nats, "nats://") {
		t.Fatalf("stoa base's ready line %q names no NATS URL", lines[len(lines)-1])
	}
	// The workers first: the gateway learns them when it joins.
	for i := range 3 {
		start(t, dir, "ready ", "worker", "--nats", nats, "--http", "", "--name", fmt.Sprintf("worker-%d", i+1))
	}
	tokenFile := filepath.Join(dir, "gateway.token")
	_, lines = start(t, dir, "ready ", "gateway", "--nats", nats, "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--log-level", "warn")
	gw := field(lines[len(lines)-1], "gateway")
	tok, err := os.ReadFile(tokenFile)
	if err != nil || !strings.HasPrefix(gw, "http://") {
		t.Fatalf("stoa gateway: ready line %q, token file: %v", lines[len(lines)-1], err)
	}
	api := []string{"--gateway", gw, "--token", strings.TrimSpace(string(tok))}

	app, err := filepath.Abs(appDir)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeDeployed(t, mustStoa(t, app, append([]string{"fn", "create", "--api-module", "app", "--name", "scaled", "--concurrency", "1"}, api...)...))
	who := d.routeURL("GET /who")
	if who != gw+"/who" {
		t.Fatalf("stoa fn create --api-module through stoa gateway printed %+v; want GET /who at %s/who", d.API, gw)
	}

	// ab -n 300 -c 10, in Go.
	const total, inFlight = 300, 10
	envs := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int, total)
	for i := range total {
		next <- i
	}
	close(next)
	errs := make(chan error, total)
	for range inFlight {
		wg.Go(func() {
			for range next {
				r, err := request(context.Background(), "GET", who, "")
				if err == nil && r.status != 200 {
					err = fmt.Errorf("GET /who: %d %s", r.status, r.body)
				}
				if err != nil {
					errs <- err
					continue
				}
				var reply struct{ Env string }
				if err := json.Unmarshal([]byte(r.body), &reply); err != nil || reply.Env == "" {
					errs <- fmt.Errorf("GET /who: %s", r.body)
					continue
				}
				mu.Lock()
				envs[reply.Env]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 3 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, total)
	}
	t.Logf("replies per environment: %v", envs)
	if len(envs) != 3 {
		t.Errorf("replies came from %d environments, want 3 (one per stoa worker, the function's concurrency being 1): %v", len(envs), envs)
	}

	// Bodies of several megabytes, across the mesh and back.
	d = decodeDeployed(t, mustStoa(t, dir, append([]string{"fn", "create", "--name", "mirror", "--runtime", "node", "--handler", "app.handler",
		"--route", "POST:/mirror", writeFunction(t, mirrorJS)}, api...)...))
	mirror := d.routeURL("POST /mirror")
	if mirror != gw+"/mirror" {
		t.Fatalf("stoa fn create printed %+v; want POST /mirror at %s/mirror", d.API, gw)
	}
	for _, n := range []int{3 << 19, 5 << 20} {
		body := strings.Repeat("0123456789abcdef", n/16)
		r, err := request(t.Context(), "POST", mirror, body, "Content-Type: text/plain")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || r.body != body {
			t.Errorf("a body of %d bytes through the gateway to a function: %d, %d bytes back (%.200s); want 200 and the same body", n, r.status, len(r.body), r.body)
		}
	}
	tooBig := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(tooBig, []byte(strings.Repeat("x", 6<<20+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := curl(t, "-H", "Content-Type: text/plain", "--data-binary", "@"+tooBig, mirror); code != 413 || !strings.Contains(body, `"code":"request_too_large"`) {
		t.Errorf("curl with a body over 6 MB: %d %.300s, want 413 request_too_large", code, body)
	}
}
