// Package test runs the gateway end to end with real functions: the
// chapter's claudia-api-builder app (npm, pinned in testdata/claudia) on
// the Node runtime of fn/worker, reached through the gateway as API
// Gateway would reach it, and scaled over three workers. The tests take
// seconds each; go test -short skips them, and they skip when Node is not
// installed.
package test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// appDir is the claudia app: app.js and its pinned node_modules.
const appDir = "testdata/claudia"

// envDir is where environments live: outside /tmp, which each
// environment's private /tmp hides.
var envDir string

// skipReason, when set, is why the tests cannot run here.
var skipReason string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if _, err := exec.LookPath("node"); err != nil {
		skipReason = "node is not on PATH; install Node 20 to run the claudia app"
	} else if _, err := os.Stat(filepath.Join(appDir, "node_modules", "claudia-api-builder")); err != nil {
		// The app's one dependency, pinned by package-lock.json.
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = appDir
		if out, err := cmd.CombinedOutput(); err != nil {
			skipReason = fmt.Sprintf("npm ci in gateway/test/%s failed (%v): %s", appDir, err, out)
		}
	}
	base := "/var/tmp"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = ""
	}
	dir, err := os.MkdirTemp(base, "stoa-gateway-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	envDir = dir
	return m.Run()
}

func skipIfCannot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end function tests skipped in -short mode")
	}
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// system is a NATS server with JetStream, the function registry, the
// gateway (with its management API), and the workers started with
// startWorker.
type system struct {
	t     *testing.T
	srv   *server.Server
	reg   *fn.Registry
	gw    *gateway.Server
	url   string // the gateway's
	node  *mesh.Node
	token string
}

func newSystem(t *testing.T) *system {
	t.Helper()
	s := &system{t: t, token: gateway.NewToken()}
	s.srv = natstest.Server(t, func(o *server.Options) { o.JetStream, o.StoreDir = true, t.TempDir() })
	nc := s.conn("gateway")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if s.reg, err = fn.Open(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	store, err := gateway.OpenStore(t.Context(), js, jetstream.KeyValueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	e := stoa.New(stoa.WithTimeout(time.Minute))
	t.Cleanup(func() { e.Close(context.Background()) })
	if s.node, err = mesh.Join(t.Context(), e, mesh.WithConn(nc), mesh.WithDiscoveryWait(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.node.Close(context.Background()) })
	s.gw = &gateway.Server{Engine: e, Registry: s.reg, Store: store, Token: s.token,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.gw.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + ln.Addr().String()
	go s.gw.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.gw.Shutdown(ctx)
	})
	return s
}

// conn connects with the mesh's settings.
func (s *system) conn(name string) *nats.Conn {
	s.t.Helper()
	opts, err := mesh.Options(name, mesh.Auth{})
	if err != nil {
		s.t.Fatal(err)
	}
	nc, err := nats.Connect(s.srv.ClientURL(), opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// startWorker starts a function worker on the mesh and waits until the
// gateway knows n workers.
func (s *system) startWorker(name string, n int) {
	s.t.Helper()
	w := &worker.Worker{Conn: s.conn(name), Registry: s.reg, Name: name, Dir: s.t.TempDir(), EnvDir: envDir}
	if err := w.Start(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
	defer cancel()
	if err := s.node.WaitFor(ctx, worker.Pattern, n); err != nil {
		s.t.Fatal(err)
	}
}

// deploy creates the claudia app as a function through the management
// API, with the routes its apiConfig() declares, as `claudia create
// --api-module app` does; config edits the configuration first.
func (s *system) deploy(name string, config func(*fn.Config)) []string {
	s.t.Helper()
	routes, err := gateway.ClaudiaRoutes(s.t.Context(), appDir, "app")
	if err != nil {
		s.t.Fatal(err)
	}
	cfg := fn.Config{Runtime: fn.RuntimeNode, Handler: "app.proxyRouter", Routes: routes}
	if config != nil {
		config(&cfg)
	}
	body, err := json.Marshal(map[string]any{"name": name, "config": cfg, "code": zipDir(s.t, appDir)})
	if err != nil {
		s.t.Fatal(err)
	}
	r := s.do("POST", gateway.APIPrefix+"/functions", string(body), "Authorization: Bearer "+s.token)
	if r.status != 201 {
		s.t.Fatalf("creating %s: %d %s", name, r.status, r.body)
	}
	return routes
}

// zipDir zips a directory as a bundle, base64-encoded for the API.
func zipDir(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := z.CreateHeader(h)
		if err != nil {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(content)
		return err
	})
	if err == nil {
		err = z.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// reply is an HTTP answer, read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: time.Minute}

// do sends a request to the gateway; headers are "Name: value".
func (s *system) do(method, path, body string, headers ...string) reply {
	s.t.Helper()
	r, err := request(s.t.Context(), method, s.url+path, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func request(ctx context.Context, method, url, body string, headers ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}, err
}
