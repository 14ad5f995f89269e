package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

// lockedBuffer is a buffer a running command writes to while the test reads.
type lockedBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	line chan string
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.line != nil && bytes.Contains(p, []byte("\n")) {
		select {
		case l.line <- l.b.String():
		default:
		}
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// field returns the value of key=value in a "ready ..." line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestBaseMeshAct runs `stoa base`, serves a pin on it, and checks `stoa
// mesh ls`, `stoa act --nats`, the health endpoints and the drain.
func TestBaseMeshAct(t *testing.T) {
	ctx, stop := context.WithCancel(t.Context())
	out := &lockedBuffer{line: make(chan string, 1)}
	var errb lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, []string{"base", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--lame-duck", "100ms"}, strings.NewReader(""), out, &errb)
	}()
	var line string
	select {
	case line = <-out.line:
	case code := <-exited:
		t.Fatalf("stoa base exited %d: %s", code, errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("stoa base not ready")
	}
	url, web := field(line, "nats"), field(line, "http")
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || !strings.HasPrefix(web, "http://127.0.0.1:") {
		t.Fatalf("ready line %q", line)
	}

	e := stoa.New()
	defer e.Close(context.Background())
	e.Add("role:calculator,cmd:add", stoa.Handle(func(_ context.Context, in struct{ Operands []float64 }) (map[string]float64, error) {
		return map[string]float64{"result": in.Operands[0] + in.Operands[1]}, nil
	}))
	n, err := mesh.Join(t.Context(), e, mesh.WithURLs(url), mesh.WithPins("role:calculator,cmd:add"), mesh.WithName("add"))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())

	for _, c := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{args: []string{"act", "--nats", url, "role:calculator,cmd:add,operands:[7,3]"}, out: `"result": 10`},
		{args: []string{"act", "--nats", url, "role:calculator,cmd:nothing"}, code: 1, err: "act_not_found"},
		{args: []string{"mesh", "ls", "--nats", url}, out: "cmd:add,role:calculator  1"},
		{args: []string{"mesh", "ls", "--nats", url, "--json"}, out: `"providers": 1`},
		{args: []string{"mesh", "ls", "--nats", "nats://127.0.0.1:1", "--timeout", "300ms"}, code: 1, err: "no NATS server"},
	} {
		start := time.Now()
		code, stdout, stderr := run(t, c.args...)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("stoa %q took %v", c.args, d)
		}
		if code != c.code || !strings.Contains(stdout, c.out) || !strings.Contains(stderr, c.err) {
			t.Errorf("stoa %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", c.args, code, stdout, stderr, c.code, c.out, c.err)
		}
	}

	for _, c := range []struct{ path, want string }{
		{"/healthz", "ok"}, {"/livez", "ok"}, {"/readyz", "ok"}, {"/metrics", "stoa_base_connections"},
	} {
		resp, err := http.Get(web + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: %d %q, want 200 and %q", c.path, resp.StatusCode, body, c.want)
		}
	}

	stopAt := time.Now()
	defer func() { t.Logf("stopped in %v", time.Since(stopAt)) }()
	stop() // SIGTERM
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("stoa base exited %d after SIGTERM: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stoa base did not stop")
	}
}

// TestMeshLsJSON checks the JSON shape of an empty mesh.
func TestMeshLsJSON(t *testing.T) {
	var b mesh.Base
	b.Listen = "127.0.0.1:0"
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	code, stdout, stderr := run(t, "mesh", "ls", "--nats", b.ClientURL(), "--json", "--wait", "20ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Nodes []mesh.Peer     `json:"nodes"`
		Pins  []mesh.PinCount `json:"pins"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Nodes == nil || len(got.Nodes) != 0 {
		t.Errorf("stdout %q: %v", stdout, err)
	}
}

// startBase runs `stoa base` with args until the test ends and returns
// the fields of its ready line.
func startBase(t *testing.T, args ...string) (nats, web string) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	out := &lockedBuffer{line: make(chan string, 1)}
	var errb lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, append([]string{"base", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--lame-duck", "50ms"}, args...), strings.NewReader(""), out, &errb)
	}()
	t.Cleanup(func() {
		stop()
		if code := <-exited; code != 0 {
			t.Errorf("stoa base %q exited %d: %s", args, code, errb.String())
		}
	})
	select {
	case line := <-out.line:
		return field(line, "nats"), field(line, "http")
	case code := <-exited:
		exited <- code
		t.Fatalf("stoa base %q exited %d: %s", args, code, errb.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("stoa base %q not ready", args)
	}
	return "", ""
}

func readyz(t *testing.T, web string) (int, string) {
	t.Helper()
	resp, err := http.Get(web + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestBaseJetStream: --jetstream --data starts JetStream in DIR; /readyz
// checks it; --jetstream alone is a usage error.
func TestBaseJetStream(t *testing.T) {
	dir := t.TempDir()
	_, web := startBase(t, "--jetstream", "--data", dir)
	if code, body := readyz(t, web); code != 200 {
		t.Errorf("/readyz with JetStream: %d %q", code, body)
	}
	if code, _, errs := run(t, "base", "--jetstream"); code != 2 || !strings.Contains(errs, "--data") {
		t.Errorf("stoa base --jetstream: exit %d, stderr %q; want 2 and a word on --data", code, errs)
	}
}

// TestBaseAuthFlagsAndEnv: a base started with --user/--password refuses
// a client without them, and admits one given them by flags or by
// natscli's environment variables.
func TestBaseAuthFlagsAndEnv(t *testing.T) {
	url, _ := startBase(t, "--user", "stoa", "--password", "s3cret")
	if code, _, errs := run(t, "mesh", "ls", "--nats", url, "--timeout", "5s"); code != 1 || !strings.Contains(errs, "refused") {
		t.Errorf("mesh ls without credentials: exit %d, stderr %q; want 1 and refused", code, errs)
	}
	if code, _, errs := run(t, "mesh", "ls", "--nats", url, "--nats-user", "stoa", "--nats-password", "s3cret"); code != 0 {
		t.Errorf("mesh ls with --nats-user/--nats-password: exit %d: %s", code, errs)
	}
	t.Setenv("NATS_URL", url)
	t.Setenv("NATS_USER", "stoa")
	t.Setenv("NATS_PASSWORD", "s3cret")
	if code, _, errs := run(t, "mesh", "ls"); code != 0 {
		t.Errorf("mesh ls with NATS_URL, NATS_USER, NATS_PASSWORD: exit %d: %s", code, errs)
	}
	// The base's own password may come from the environment too.
	t.Setenv("STOA_BASE_PASSWORD", "fromenv")
	url2, _ := startBase(t, "--user", "u")
	if code, _, errs := run(t, "mesh", "ls", "--nats", url2, "--nats-user", "u", "--nats-password", "fromenv"); code != 0 {
		t.Errorf("base password from STOA_BASE_PASSWORD: exit %d: %s", code, errs)
	}
}

// TestBaseOnExistingNATS: with --nats, stoa base starts no server and
// serves the health endpoints for the NATS it was given.
func TestBaseOnExistingNATS(t *testing.T) {
	url, _ := startBase(t)
	got, web := startBase(t, "--nats", url)
	if got != url {
		t.Errorf("ready line names %q, want %q", got, url)
	}
	if code, body := readyz(t, web); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}
}
