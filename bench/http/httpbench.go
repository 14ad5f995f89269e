package httpbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/nodetest"
	"github.com/stoaproject/stoa/stoahttp"
	"github.com/valyala/fasthttp"
)

// Issue 4's goals, as ratios of throughput at 32 acts in flight.
const (
	GoalNetHTTP = 0.7 // Stoa / net/http
	GoalSeneca  = 20  // Stoa / Seneca
)

// Run's defaults: more, shorter rounds give a median that a burst of load
// on a shared machine moves less.
const (
	DefaultDuration = 2 * time.Second
	DefaultRounds   = 5
)

// Reply is what every act must get back.
const Reply = `{"answer":3}`

// Script is the Seneca side, in testdata/npm.
const Script = "http-bench.js"

// Sides, as they are named in results.
const (
	Stoa     = "stoa"
	NetHTTP  = "nethttp"
	FastHTTP = "fasthttp"
	Seneca   = "seneca"
)

// Stats is one timed run of one side at one number of acts in flight.
type Stats struct {
	Acts     int     `json:"acts"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	ActsPerS float64 `json:"acts_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Version  string  `json:"version,omitempty"`
}

// Config sizes a comparison; a zero field takes the default given.
type Config struct {
	Duration time.Duration // of each timed run; default 2 s
	Warmup   int           // untimed sequential acts before each run; default 500
	Rounds   int           // times each side runs; default 5
	InFlight []int         // default 1 and 32
}

// Result holds every run: Runs[side][inFlight] lists one Stats per round.
type Result struct {
	Runs    map[string]map[int][]Stats
	Version string // Seneca's
}

// Median is the run of side at inFlight with the median throughput, its
// latencies being that run's.
func (r Result) Median(side string, inFlight int) Stats {
	rs := slices.Clone(r.Runs[side][inFlight])
	if len(rs) == 0 {
		return Stats{}
	}
	slices.SortFunc(rs, func(a, b Stats) int { return cmpFloat(a.ActsPerS, b.ActsPerS) })
	return rs[len(rs)/2]
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Run measures every side, alternating them round by round.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 500
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = DefaultRounds
	}
	if len(cfg.InFlight) == 0 {
		cfg.InFlight = []int{1, 32}
	}
	res := Result{Runs: map[string]map[int][]Stats{}}
	add := func(side string, n int, s Stats) {
		if res.Runs[side] == nil {
			res.Runs[side] = map[int][]Stats{}
		}
		res.Runs[side][n] = append(res.Runs[side][n], s)
	}

	st, err := StartStoa()
	if err != nil {
		return res, err
	}
	defer st.Close()
	nh, err := StartNetHTTP()
	if err != nil {
		return res, err
	}
	defer nh.Close()
	fh, err := StartFastHTTP()
	if err != nil {
		return res, err
	}
	defer fh.Close()
	sl, err := nodetest.Launch(ctx, Script, "listen")
	if err != nil {
		return res, fmt.Errorf("seneca listener: %w", err)
	}
	defer sl.Close()
	var ready struct {
		Port    int    `json:"port"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(sl.Ready, &ready); err != nil || ready.Port == 0 {
		return res, fmt.Errorf("seneca listener said %q: %v", sl.Ready, err)
	}
	res.Version = ready.Version

	sides := []struct {
		name string
		run  func(n int) (Stats, error)
	}{
		{Stoa, func(n int) (Stats, error) { return Load(ctx, st.Act, n, cfg.Warmup, cfg.Duration) }},
		{NetHTTP, func(n int) (Stats, error) { return Load(ctx, nh.Act, n, cfg.Warmup, cfg.Duration) }},
		{FastHTTP, func(n int) (Stats, error) { return Load(ctx, fh.Act, n, cfg.Warmup, cfg.Duration) }},
		{Seneca, func(n int) (Stats, error) { return SenecaLoad(ctx, ready.Port, n, cfg.Warmup, cfg.Duration) }},
	}
	for round := range cfg.Rounds {
		for _, n := range cfg.InFlight {
			for i := range sides {
				side := sides[(i+round)%len(sides)]
				s, err := side.run(n)
				if err != nil {
					return res, fmt.Errorf("%s, %d in flight: %w", side.name, n, err)
				}
				if s.Errors > 0 || s.Acts == 0 {
					return res, fmt.Errorf("%s, %d in flight: %d acts, %d errors", side.name, n, s.Acts, s.Errors)
				}
				add(side.name, n, s)
			}
		}
	}
	return res, nil
}

// Load runs act warmup times one at a time, then with inFlight acts
// outstanding for d, and measures.
func Load(ctx context.Context, act func(context.Context) error, inFlight, warmup int, d time.Duration) (Stats, error) {
	for range warmup {
		if err := act(ctx); err != nil {
			return Stats{}, err
		}
	}
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	errs := 0
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			bad := 0
			var e error
			for time.Now().Before(end) {
				t := time.Now()
				if err := act(ctx); err != nil {
					bad++
					if e == nil {
						e = err
					}
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += bad
			if firstErr == nil {
				firstErr = e
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return Stats{}, firstErr
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	return Stats{Acts: len(all), Errors: errs, Seconds: secs, ActsPerS: float64(len(all)) / secs, P50ms: pct(0.5), P99ms: pct(0.99)}, nil
}

// StoaPair is a Stoa listener and a caller with a client of it.
type StoaPair struct {
	server, caller *stoa.Engine
	srv            *stoahttp.Server
	served         chan error
}

type sumIn struct {
	Left  int `json:"left"`
	Right int `json:"right"`
}

type sumOut struct {
	Answer int `json:"answer"`
}

func sum(_ context.Context, in sumIn) (sumOut, error) { return sumOut{in.Left + in.Right}, nil }

// StartStoa starts a Stoa listener with role:math,cmd:sum on a free
// loopback port and attaches a client to a caller engine.
func StartStoa() (*StoaPair, error) {
	p := &StoaPair{server: stoa.New(), caller: stoa.New(), served: make(chan error, 1)}
	if err := p.server.Add("role:math,cmd:sum", stoa.Handle(sum)); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.srv = &stoahttp.Server{Engine: p.server}
	go func() { p.served <- p.srv.Serve(ln) }()
	if _, err := stoahttp.NewClient(p.caller, ln.Addr().String()); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Act acts once and checks the reply.
func (p *StoaPair) Act(ctx context.Context) error {
	out, err := p.caller.Act(ctx, stoa.Msg{"role": "math", "cmd": "sum", "left": 1, "right": 2})
	if err != nil {
		return err
	}
	if string(out) != Reply {
		return fmt.Errorf("stoa replied %s, want %s", out, Reply)
	}
	return nil
}

// Close stops the caller, the listener and the server engine.
func (p *StoaPair) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.caller.Close(ctx)
	if p.srv != nil {
		p.srv.Close(ctx)
		<-p.served
	}
	p.server.Close(ctx)
}

// NetHTTPPair is the baseline issue 4 names: a net/http server whose
// handler decodes the JSON body and encodes the sum, and a client with
// keep-alive connections enough for every act in flight.
type NetHTTPPair struct {
	srv *http.Server
	url string
	hc  *http.Client
}

// StartNetHTTP starts the plain net/http JSON echo on a free loopback port.
func StartNetHTTP() (*NetHTTPPair, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &NetHTTPPair{
		url: "http://" + ln.Addr().String() + "/act",
		hc:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l, _ := m["left"].(float64)
		rr, _ := m["right"].(float64)
		b, _ := json.Marshal(sumOut{int(l + rr)})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// Act posts the message once and checks the reply.
func (p *NetHTTPPair) Act(ctx context.Context) error {
	b, err := json.Marshal(map[string]any{"role": "math", "cmd": "sum", "left": 1, "right": 2})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(out) != Reply {
		return fmt.Errorf("net/http replied %d %s, want 200 %s", resp.StatusCode, out, Reply)
	}
	return nil
}

// Close stops the server and the client's connections.
func (p *NetHTTPPair) Close() {
	p.srv.Close()
	p.hc.CloseIdleConnections()
}

// FastHTTPPair is the floor of the HTTP stack stoahttp runs on: the same
// JSON echo as NetHTTPPair's, on fasthttp's server and client.
type FastHTTPPair struct {
	srv    *fasthttp.Server
	served chan error
	url    string
	hc     *fasthttp.HostClient
}

// StartFastHTTP starts the fasthttp JSON echo on a free loopback port.
func StartFastHTTP() (*FastHTTPPair, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FastHTTPPair{
		url:    "http://" + ln.Addr().String() + "/act",
		hc:     &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 512},
		served: make(chan error, 1),
	}
	p.srv = &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		var m map[string]any
		if err := json.Unmarshal(ctx.PostBody(), &m); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadRequest)
			return
		}
		l, _ := m["left"].(float64)
		rr, _ := m["right"].(float64)
		b, _ := json.Marshal(sumOut{int(l + rr)})
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
	}}
	go func() { p.served <- p.srv.Serve(ln) }()
	return p, nil
}

// Act posts the message once and checks the reply.
func (p *FastHTTPPair) Act(ctx context.Context) error {
	b, err := json.Marshal(map[string]any{"role": "math", "cmd": "sum", "left": 1, "right": 2})
	if err != nil {
		return err
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(p.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(b)
	if err := p.hc.Do(req, resp); err != nil {
		return err
	}
	if resp.StatusCode() != 200 || string(resp.Body()) != Reply {
		return fmt.Errorf("fasthttp replied %d %s, want 200 %s", resp.StatusCode(), resp.Body(), Reply)
	}
	return nil
}

// Close stops the server and the client's connections.
func (p *FastHTTPPair) Close() {
	p.srv.Shutdown()
	<-p.served
	p.hc.CloseIdleConnections()
}

// SenecaLoad runs Script's load mode against the Seneca listener on port.
func SenecaLoad(ctx context.Context, port, inFlight, warmup int, d time.Duration) (Stats, error) {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(nodetest.Dir(), Script), "load",
		strconv.Itoa(port), strconv.Itoa(inFlight), strconv.FormatFloat(d.Seconds(), 'f', 3, 64), strconv.Itoa(warmup))
	cmd.Dir = nodetest.Dir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Stats{}, fmt.Errorf("node %s load: %w\n%s", Script, err, stderr.Bytes())
	}
	var s struct {
		Stats
		Reply json.RawMessage `json:"reply"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return Stats{}, fmt.Errorf("node %s load printed %q: %w", Script, out, err)
	}
	if string(s.Reply) != Reply {
		return s.Stats, errors.New("seneca replied " + string(s.Reply) + ", want " + Reply)
	}
	return s.Stats, nil
}
