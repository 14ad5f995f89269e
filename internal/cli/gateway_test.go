package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestGateway runs `stoa gateway` on a mesh with JetStream, with a routes
// file and a token file, and checks an act route, the token, the health
// endpoints and the drain on SIGTERM.
func TestGateway(t *testing.T) {
	dir := t.TempDir()
	ns := natstest.Server(t, func(o *server.Options) { o.JetStream, o.StoreDir = true, filepath.Join(dir, "js") })
	e := stoa.New()
	defer e.Close(context.Background())
	e.Add("role:hello,cmd:sayHello", func(_ context.Context, m stoa.Msg) (any, error) {
		return map[string]any{"message": "Hello, " + m["name"].(string)}, nil
	})
	// A stand-in for a function worker: fn:* answers as fn/worker does.
	e.Add("fn:*", func(_ context.Context, m stoa.Msg) (any, error) {
		return map[string]any{"version": 1, "payload": "Hello from " + m["fn"].(string)}, nil
	})
	n, err := mesh.Join(t.Context(), e, mesh.WithURLs(ns.ClientURL()), mesh.WithPins("role:hello,cmd:sayHello", "fn:*"))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())

	routes := filepath.Join(dir, "routes.json")
	os.WriteFile(routes, []byte(`{"routes":[{"method":"GET","path":"/hello/{name}","act":"role:hello,cmd:sayHello"}]}`), 0o644)
	tokenFile := filepath.Join(dir, "token")

	ctx, stop := context.WithCancel(t.Context())
	out := &lockedBuffer{line: make(chan string, 1)}
	var errb lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, []string{"gateway", "--nats", ns.ClientURL(), "--listen", "127.0.0.1:0", "--routes", routes, "--token-file", tokenFile},
			strings.NewReader(""), out, &errb)
	}()
	var line string
	select {
	case line = <-out.line:
	case code := <-exited:
		t.Fatalf("stoa gateway exited %d: %s", code, errb.String())
	case <-time.After(20 * time.Second):
		t.Fatal("stoa gateway not ready")
	}
	web, api := field(line, "gateway"), field(line, "api")
	if !strings.HasPrefix(web, "http://127.0.0.1:") || api != web+"/_stoa/api/v1" {
		t.Fatalf("ready line %q", line)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil || len(strings.TrimSpace(string(tok))) < 40 {
		t.Fatalf("token file: %q, %v", tok, err)
	}

	get := func(url, auth string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		url, auth string
		code      int
		want      string
	}{
		{web + "/hello/Ada", "", 200, `{"message":"Hello, Ada"}`},
		{web + "/nothing", "", 404, `"code":"route_not_found"`},
		{api + "/routes", "", 401, `"code":"unauthorized"`},
		{api + "/routes", strings.TrimSpace(string(tok)), 200, `"path": "/hello/{name}"`},
		{api, "", 200, `"openapi"`},
		{web + "/readyz", "", 200, "ok"},
		{web + "/metrics", "", 200, "stoa_gateway_requests_total"},
	} {
		if code, body := get(c.url, c.auth); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %s, want %d and %q", c.url, code, body, c.code, c.want)
		}
	}

	// A function created through the API brings its route: the gateway
	// watches the registry.
	zip := "UEsDBBQAAAAIAAAAIQAvOtrpFAAAABIAAAAJAAAAYm9vdHN0cmFwU1bUT8rM0y/O4EpNzshXyMjkAgBQSwECFAMUAAAACAAAACEALzra6RQAAAASAAAACQAAAAAAAAAAAAAA7YEAAAAAYm9vdHN0cmFwUEsFBgAAAAABAAEANwAAADsAAAAAAA==" // bootstrap, 0755
	body := `{"name":"hello","config":{"runtime":"provided","routes":["GET:/fn"]},"code":"` + zip + `"}`
	req, _ := http.NewRequestWithContext(t.Context(), "POST", api+"/functions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /functions: %d %s", resp.StatusCode, b)
	}
	// The reply to create comes once the gateway routes by the function.
	if code, body := get(web+"/fn", ""); code != 200 || body != `"Hello from hello"` {
		t.Errorf("GET /fn right after creating the function: %d %s", code, body)
	}

	stop() // SIGTERM
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("stoa gateway exited %d after SIGTERM: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stoa gateway did not stop")
	}
}

// TestGatewayNeedsJetStream: without JetStream the gateway says what to do.
func TestGatewayNeedsJetStream(t *testing.T) {
	ns := natstest.Server(t)
	code, _, stderr := run(t, "gateway", "--nats", ns.ClientURL(), "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "JetStream") {
		t.Errorf("stoa gateway without JetStream: exit %d, stderr %q; want 1 and a word about JetStream", code, stderr)
	}
}
