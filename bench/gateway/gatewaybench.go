package gatewaybench

import (
	"archive/zip"
	"bytes"
	"context"
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
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa"
	httpbench "github.com/stoaproject/stoa/bench/http"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// Issue 7's goals.
const (
	Goal         = 0.5 // act route throughput at InFlight over the floor's
	FunctionGoal = 200 // µs: function route p50 (one at a time) over the floor's p50, at most
)

// coldTimeout is the functions' timeout: ten Node environments starting at
// once on a busy two-core machine can take longer than Lambda's default 3 s,
// which would fail a measurement rather than slow it.
const coldTimeout = fn.Duration(30 * time.Second)

// InFlight is how many requests are outstanding in a throughput run.
const InFlight = 32

// Reply is what the floor, the act routes and the Go function answer to
// GET …/hello/Ada; ClaudiaReply what the claudia app answers to GET /hello.
const (
	Reply        = `{"message":"Hello, Ada"}`
	ClaudiaReply = `"Hello from AWS!"`
)

// Sides, as results name them.
const (
	NetHTTP  = "nethttp"           // http.ServeMux handler: the floor
	Local    = "gateway/local"     // act route, the handler on the gateway's engine
	Mesh     = "gateway/mesh"      // act route, the handler on another engine of the mesh
	Function = "gateway/function"  // function route to a warm aws-lambda-go function
	Stub     = "nethttp+stub"      // net/http handler invoking the same function under internal/lambdastub
	Claudia  = "gateway/claudia"   // the claudia app on the Node runtime, through the gateway
	LocalAPI = "claudia-local-api" // the same app served by claudia-local-api (Express)
)

// Sides lists every side in table order.
var Sides = []string{NetHTTP, Local, Mesh, Function, Stub, Claudia, LocalAPI}

// Stats is one run of one side (bench/http's).
type Stats = httpbench.Stats

// Config sizes a comparison; a zero field takes the default given.
type Config struct {
	Duration time.Duration // of each timed run; default 3 s
	Warmup   int           // untimed requests before each run; default 500
	Rounds   int           // runs of each side; default 3
	Cold     int           // cold starts timed per function; default 10
	// NoNode leaves out the sides that need Node (the claudia app and
	// claudia-local-api).
	NoNode bool
}

// Result holds every run: Runs[side][inFlight] has one Stats per round;
// Cold[side] the cold starts, in ms.
type Result struct {
	Runs map[string]map[int][]Stats
	Cold map[string][]float64
}

// Median is the run of side at inFlight with the median throughput.
func (r Result) Median(side string, inFlight int) Stats {
	rs := slices.Clone(r.Runs[side][inFlight])
	if len(rs) == 0 {
		return Stats{}
	}
	slices.SortFunc(rs, func(a, b Stats) int {
		switch {
		case a.ActsPerS < b.ActsPerS:
			return -1
		case a.ActsPerS > b.ActsPerS:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

// ColdP50 is the median cold start of side, in ms.
func (r Result) ColdP50(side string) float64 {
	c := slices.Clone(r.Cold[side])
	if len(c) == 0 {
		return 0
	}
	slices.Sort(c)
	return c[len(c)/2]
}

type helloIn struct {
	Name string `json:"name"`
}

type helloOut struct {
	Message string `json:"message"`
}

func hello(_ context.Context, in helloIn) (helloOut, error) {
	return helloOut{"Hello, " + in.Name}, nil
}

// Bench holds the servers of every side.
type Bench struct {
	sides   []string
	urls    map[string]string // side → URL to GET
	want    map[string]string // side → the body it must answer
	worker  *worker.Worker
	closers []func()
	client  *http.Client
}

// Start starts every side on loopback ports: an embedded NATS server with
// JetStream, the function registry and a worker, a provider engine on the
// mesh, the gateways, the net/http floor and, unless noNode,
// claudia-local-api. The functions are deployed (the Go one built first)
// and warm when Start returns.
func Start(ctx context.Context, noNode bool) (b *Bench, err error) {
	b = &Bench{urls: map[string]string{}, want: map[string]string{}, client: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 2 * InFlight, DisableCompression: true,
	}}}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	storeDir, err := os.MkdirTemp("", "stoa-bench-gateway-")
	if err != nil {
		return b, err
	}
	b.closers = append(b.closers, func() { os.RemoveAll(storeDir) })
	o := natstest.Options()
	o.JetStream, o.StoreDir = true, filepath.Join(storeDir, "js")
	ns, err := natstest.Start(o)
	if err != nil {
		return b, err
	}
	b.closers = append(b.closers, ns.Shutdown)

	// The floor.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		out, err := json.Marshal(helloOut{"Hello, " + r.PathValue("name")})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
	floor, err := b.serve(&http.Server{Handler: mux})
	if err != nil {
		return b, err
	}
	b.add(NetHTTP, floor+"/hello/Ada", Reply)

	route := gateway.Route{Method: "GET", Path: "/hello/{name}", Act: "role:hello,cmd:sayHello"}
	// The gateway acting on its own engine.
	local := b.engine()
	if err := local.Add("role:hello,cmd:sayHello", stoa.Handle(hello)); err != nil {
		return b, err
	}
	gwLocal, err := b.gateway(ctx, &gateway.Server{Engine: local, Routes: []gateway.Route{route}})
	if err != nil {
		return b, err
	}
	b.add(Local, gwLocal+"/hello/Ada", Reply)

	// The gateway acting over the mesh, and routing to functions.
	provider := b.engine()
	if err := provider.Add("role:hello,cmd:sayHello", stoa.Handle(hello)); err != nil {
		return b, err
	}
	if _, err := b.join(ctx, ns, provider, mesh.WithPins("role:hello,cmd:sayHello")); err != nil {
		return b, err
	}
	caller := b.engine()
	// The gateway's connection is in process, as under stoa up; the provider's is TCP.
	gwConn, err := b.conn(ns, "bench-gateway", nats.InProcessServer(ns))
	if err != nil {
		return b, err
	}
	node, err := b.join(ctx, ns, caller, mesh.WithConn(gwConn))
	if err != nil {
		return b, err
	}
	if err := node.WaitFor(ctx, "role:hello,cmd:sayHello", 1); err != nil {
		return b, err
	}
	reg, err := b.registry(ctx, ns)
	if err != nil {
		return b, err
	}
	token := gateway.NewToken()
	gwMesh, err := b.gateway(ctx, &gateway.Server{Engine: caller, Routes: []gateway.Route{route}, Registry: reg, Token: token})
	if err != nil {
		return b, err
	}
	b.add(Mesh, gwMesh+"/hello/Ada", Reply)

	// The worker, and the functions.
	if err := b.startWorker(ctx, ns, reg); err != nil {
		return b, err
	}
	if err := node.WaitFor(ctx, worker.Pattern, 1); err != nil {
		return b, err
	}
	dir := filepath.Join(storeDir, "hello")
	if err := build(ctx, "./testdata/hello", dir); err != nil {
		return b, err
	}
	// Created through the management API, which answers once the gateway
	// routes by the function.
	create := func(name string, cfg fn.Config, dir string) error {
		return b.create(ctx, gwMesh, token, name, cfg, dir)
	}
	if err := create("hello", fn.Config{Runtime: fn.RuntimeProvided, Routes: []string{"GET:/fn/hello/{name}"}, Timeout: coldTimeout}, dir); err != nil {
		return b, err
	}
	b.add(Function, gwMesh+"/fn/hello/Ada", Reply)
	stub, err := b.stub(dir)
	if err != nil {
		return b, err
	}
	b.add(Stub, stub+"/hello/Ada", Reply)

	if !noNode {
		app, err := claudiaApp(ctx)
		if err != nil {
			return b, err
		}
		routes, err := gateway.ClaudiaRoutes(ctx, app, "app")
		if err != nil {
			return b, err
		}
		if err := create("claudia", fn.Config{Runtime: fn.RuntimeNode, Handler: "app.proxyRouter", Routes: routes, Timeout: coldTimeout}, app); err != nil {
			return b, err
		}
		b.add(Claudia, gwMesh+"/hello", ClaudiaReply)
		la, err := b.localAPI(ctx, app)
		if err != nil {
			return b, err
		}
		b.add(LocalAPI, la+"/hello", ClaudiaReply)
	}
	// Every side answers once (a function's first answer is a cold start).
	for _, side := range b.sides {
		if err := b.Get(ctx, side); err != nil {
			return b, err
		}
	}
	return b, nil
}

// create creates a function through the gateway's management API, its
// code the directory dir zipped.
func (b *Bench) create(ctx context.Context, gw, token, name string, cfg fn.Config, dir string) error {
	code, err := zipDir(dir)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"name": name, "config": cfg, "code": code})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", gw+gateway.APIPrefix+"/functions", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("creating %s: %d %s", name, resp.StatusCode, out)
	}
	return nil
}

// zipDir zips a directory as a function bundle.
func zipDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := z.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err == nil {
		err = z.Close()
	}
	return buf.Bytes(), err
}

func (b *Bench) add(side, url, want string) {
	b.sides = append(b.sides, side)
	b.urls[side], b.want[side] = url, want
}

// Sides lists the sides this bench runs.
func (b *Bench) Sides() []string { return b.sides }

func (b *Bench) engine() *stoa.Engine {
	e := stoa.New(stoa.WithTimeout(time.Minute))
	b.closers = append(b.closers, func() { e.Close(context.Background()) })
	return e
}

func (b *Bench) join(ctx context.Context, ns *server.Server, e *stoa.Engine, opts ...mesh.Option) (*mesh.Node, error) {
	n, err := mesh.Join(ctx, e, append(opts, mesh.WithURLs(ns.ClientURL()), mesh.WithDiscoveryWait(20*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n, nil
}

func (b *Bench) conn(ns *server.Server, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := mesh.Options(name, mesh.Auth{})
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(ns.ClientURL(), append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, nc.Close)
	return nc, nil
}

func (b *Bench) registry(ctx context.Context, ns *server.Server) (*fn.Registry, error) {
	nc, err := b.conn(ns, "bench-registry")
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return fn.Open(ctx, js)
}

func (b *Bench) startWorker(ctx context.Context, ns *server.Server, reg *fn.Registry) error {
	nc, err := b.conn(ns, "bench-worker")
	if err != nil {
		return err
	}
	// Environments live outside /tmp, which each one's private /tmp hides.
	base := "/var/tmp"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = ""
	}
	envDir, err := os.MkdirTemp(base, "stoa-bench-gateway-envs-")
	if err != nil {
		return err
	}
	b.worker = &worker.Worker{Conn: nc, Registry: reg, Name: "bench-worker", EnvDir: envDir}
	if err := b.worker.Start(ctx); err != nil {
		os.RemoveAll(envDir)
		return err
	}
	b.closers = append(b.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.worker.Shutdown(ctx)
		os.RemoveAll(envDir)
	})
	return nil
}

// build builds a Go function into dir/bootstrap, statically, as Lambda's
// provided runtime wants.
func build(ctx context.Context, pkg, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "bootstrap"), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

func (b *Bench) serve(s *http.Server) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go s.Serve(ln)
	b.closers = append(b.closers, func() { s.Close() })
	return "http://" + ln.Addr().String(), nil
}

func (b *Bench) gateway(ctx context.Context, g *gateway.Server) (string, error) {
	g.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})) // errors only: they explain a failed run
	if err := g.Start(ctx); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go g.Serve(ln)
	b.closers = append(b.closers, func() { g.Close() })
	return "http://" + ln.Addr().String(), nil
}

// Close stops everything Start started, in reverse order.
func (b *Bench) Close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
	b.client.CloseIdleConnections()
}

// Get asks side once and checks the reply.
func (b *Bench) Get(ctx context.Context, side string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", b.urls[side], nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(body) != b.want[side] {
		return fmt.Errorf("%s answered %d %s, want 200 %s", side, resp.StatusCode, body, b.want[side])
	}
	return nil
}

// cold times one request to side with no warm environment, in ms.
func (b *Bench) cold(ctx context.Context, side string) (float64, error) {
	b.worker.CloseIdle()
	start := time.Now()
	if err := b.Get(ctx, side); err != nil {
		return 0, err
	}
	return float64(time.Since(start)) / float64(time.Millisecond), nil
}

// Run measures every side at 1 and at InFlight requests in flight, the
// order rotating between rounds, then the functions' cold starts.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 500
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	if cfg.Cold <= 0 {
		cfg.Cold = 10
	}
	res := Result{Runs: map[string]map[int][]Stats{}, Cold: map[string][]float64{}}
	b, err := Start(ctx, cfg.NoNode)
	if err != nil {
		return res, err
	}
	defer b.Close()
	sides := b.Sides()
	// Warm every function environment a run at InFlight will use.
	for _, side := range []string{Function, Claudia} {
		if slices.Contains(sides, side) {
			if _, err := httpbench.Load(ctx, func(ctx context.Context) error { return b.Get(ctx, side) }, InFlight, 0, cfg.Duration/4); err != nil {
				return res, fmt.Errorf("%s warm-up: %w", side, err)
			}
		}
	}
	for round := range cfg.Rounds {
		for _, n := range []int{1, InFlight} {
			for i := range sides {
				side := sides[(i+round)%len(sides)]
				s, err := httpbench.Load(ctx, func(ctx context.Context) error { return b.Get(ctx, side) }, n, cfg.Warmup, cfg.Duration)
				if err != nil {
					return res, fmt.Errorf("%s, %d in flight: %w", side, n, err)
				}
				if s.Acts == 0 {
					return res, fmt.Errorf("%s, %d in flight: no request answered", side, n)
				}
				if res.Runs[side] == nil {
					res.Runs[side] = map[int][]Stats{}
				}
				res.Runs[side][n] = append(res.Runs[side][n], s)
			}
		}
	}
	for _, side := range []string{Function, Claudia} {
		if !slices.Contains(sides, side) {
			continue
		}
		for range cfg.Cold {
			ms, err := b.cold(ctx, side)
			if err != nil {
				return res, fmt.Errorf("%s cold start: %w", side, err)
			}
			res.Cold[side] = append(res.Cold[side], ms)
		}
	}
	return res, nil
}
