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
		code, stdout, stderr := run(t, c.args...)
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
