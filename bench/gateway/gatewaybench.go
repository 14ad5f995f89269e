package gatewaybench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stoaproject/stoa"
	httpbench "github.com/stoaproject/stoa/bench/http"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// Goal is issue 7's: the act route's throughput at 32 in flight over the
// floor's.
const Goal = 0.5

// InFlight is how many requests are outstanding in a run.
const InFlight = 32

// Path is what every side is asked, and Reply what each must answer.
const (
	Path  = "/hello/Ada"
	Reply = `{"message":"Hello, Ada"}`
)

// Sides, as results name them.
const (
	NetHTTP = "nethttp"
	Local   = "gateway/local"
	Mesh    = "gateway/mesh"
)

// Sides lists them in table order.
var Sides = []string{NetHTTP, Local, Mesh}

// Stats is one run of one side (bench/http's).
type Stats = httpbench.Stats

// Config sizes a comparison; a zero field takes the default given.
type Config struct {
	Duration time.Duration // of each timed run; default 3 s
	Warmup   int           // untimed requests before each run; default 500
	Rounds   int           // runs of each side; default 3
}

// Result holds every run: Runs[side] has one Stats per round.
type Result struct {
	Runs map[string][]Stats // side → one Stats per round
}

// Median is the run of side with the median throughput.
func (r Result) Median(side string) Stats {
	rs := slices.Clone(r.Runs[side])
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
	urls    map[string]string
	closers []func()
	client  *http.Client
}

// Start starts every side on loopback ports: an embedded NATS server, a
// provider engine on the mesh, the two gateways and the net/http floor.
func Start(ctx context.Context) (b *Bench, err error) {
	b = &Bench{urls: map[string]string{}, client: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 2 * InFlight, DisableCompression: true,
	}}}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	ns, err := natstest.Start(natstest.Options())
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
	if b.urls[NetHTTP], err = b.serve(&http.Server{Handler: mux}); err != nil {
		return b, err
	}

	route := []gateway.Route{{Method: "GET", Path: "/hello/{name}", Act: "role:hello,cmd:sayHello"}}
	// The gateway acting on its own engine.
	local := b.engine()
	if err := local.Add("role:hello,cmd:sayHello", stoa.Handle(hello)); err != nil {
		return b, err
	}
	if b.urls[Local], err = b.gateway(ctx, &gateway.Server{Engine: local, Routes: route}); err != nil {
		return b, err
	}

	// The gateway acting over the mesh.
	provider := b.engine()
	if err := provider.Add("role:hello,cmd:sayHello", stoa.Handle(hello)); err != nil {
		return b, err
	}
	if _, err := b.join(ctx, ns, provider, mesh.WithPins("role:hello,cmd:sayHello")); err != nil {
		return b, err
	}
	caller := b.engine()
	node, err := b.join(ctx, ns, caller)
	if err != nil {
		return b, err
	}
	if err := node.WaitFor(ctx, "role:hello,cmd:sayHello", 1); err != nil {
		return b, err
	}
	if b.urls[Mesh], err = b.gateway(ctx, &gateway.Server{Engine: caller, Routes: route}); err != nil {
		return b, err
	}
	return b, nil
}

func (b *Bench) engine() *stoa.Engine {
	e := stoa.New()
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
	req, err := http.NewRequestWithContext(ctx, "GET", b.urls[side]+Path, nil)
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
	if resp.StatusCode != 200 || string(body) != Reply {
		return fmt.Errorf("%s answered %d %s, want 200 %s", side, resp.StatusCode, body, Reply)
	}
	return nil
}

// Run measures every side, the order rotating between rounds.
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
	res := Result{Runs: map[string][]Stats{}}
	b, err := Start(ctx)
	if err != nil {
		return res, err
	}
	defer b.Close()
	for round := range cfg.Rounds {
		for i := range Sides {
			side := Sides[(i+round)%len(Sides)]
			s, err := httpbench.Load(ctx, func(ctx context.Context) error { return b.Get(ctx, side) }, InFlight, cfg.Warmup, cfg.Duration)
			if err != nil {
				return res, fmt.Errorf("%s: %w", side, err)
			}
			if s.Acts == 0 {
				return res, errors.New(side + ": no request answered")
			}
			res.Runs[side] = append(res.Runs[side], s)
		}
	}
	return res, nil
}
