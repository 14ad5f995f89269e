// Package natstest runs real NATS servers inside a test process, on random
// loopback ports, for the tests of the mesh and of everything built on it.
//
// Every server it starts is shut down by the test's cleanup:
//
//	s := natstest.Server(t)
//	nc, err := nats.Connect(s.ClientURL())
//
// Cluster starts several servers routed to each other and returns once the
// routes are up, so that an interest registered on one is seen by all.
package natstest

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ReadyTimeout is how long Server and Cluster wait for a server to accept
// connections, and Cluster for its routes.
const ReadyTimeout = 10 * time.Second

// Options returns the options Server starts from: loopback, a random port,
// no signal handlers, no logs.
func Options() *server.Options {
	return &server.Options{
		Host:           "127.0.0.1",
		Port:           server.RANDOM_PORT,
		NoSigs:         true,
		NoLog:          true,
		MaxControlLine: 4096,
	}
}

// Server starts a NATS server and registers its shutdown with t. Each
// change function, if any, edits the options first (to require a password,
// enable JetStream, …).
func Server(t testing.TB, change ...func(*server.Options)) *server.Server {
	t.Helper()
	o := Options()
	for _, c := range change {
		c(o)
	}
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Start starts a NATS server with o and waits until it accepts
// connections. The caller shuts it down.
func Start(o *server.Options) (*server.Server, error) {
	s, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	log := &errorLog{}
	s.SetLogger(log, false, false)
	go s.Start()
	deadline := time.Now().Add(ReadyTimeout)
	for !s.ReadyForConnections(50 * time.Millisecond) {
		if log.fatal() || time.Now().After(deadline) { // a fatal error (the port taken): it never will be
			s.Shutdown()
			return nil, fmt.Errorf("natstest: server not ready; its last errors: %s", log)
		}
	}
	return s, nil
}

// errorLog keeps a server's last errors (a port already taken, say), so
// that a server that never becomes ready says why; the rest is dropped.
type errorLog struct {
	mu     sync.Mutex
	last   []string
	fatals int
}

func (l *errorLog) fatal() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatals > 0
}

func (l *errorLog) keep(format string, v []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.last) == 5 {
		l.last = l.last[1:]
	}
	l.last = append(l.last, fmt.Sprintf(format, v...))
}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.last) == 0 {
		return "none"
	}
	return strings.Join(l.last, "; ")
}

// The server.Logger methods: fatal errors and errors are kept.

func (l *errorLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	l.fatals++
	l.mu.Unlock()
	l.keep(format, v)
}

func (l *errorLog) Errorf(format string, v ...any)  { l.keep(format, v) }
func (l *errorLog) Warnf(format string, v ...any)   {}
func (l *errorLog) Noticef(format string, v ...any) {}
func (l *errorLog) Debugf(format string, v ...any)  {}
func (l *errorLog) Tracef(format string, v ...any)  {}

// Cluster starts n servers routed to each other (a full mesh of routes, as
// a NATS cluster forms one) and waits until every server has a route to
// every other. Each change function edits every server's options.
func Cluster(t testing.TB, n int, change ...func(*server.Options)) []*server.Server {
	t.Helper()
	servers := make([]*server.Server, 0, n)
	var seed *url.URL
	for i := range n {
		o := Options()
		o.ServerName = fmt.Sprintf("natstest-%d", i)
		o.Cluster = server.ClusterOpts{Name: "natstest", Host: "127.0.0.1", Port: server.RANDOM_PORT}
		if seed != nil {
			o.Routes = []*url.URL{seed}
		}
		for _, c := range change {
			c(o)
		}
		s, err := Start(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		if seed == nil {
			seed = &url.URL{Scheme: "nats", Host: s.ClusterAddr().String()}
		}
		servers = append(servers, s)
	}
	deadline := time.Now().Add(ReadyTimeout)
	for _, s := range servers {
		for peers(s) < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("natstest: %s is routed to %d servers after %v, want %d", s.Name(), peers(s), ReadyTimeout, n-1)
			}
			time.Sleep(5 * time.Millisecond) // nats-server has no route-up notification
		}
	}
	return servers
}

// peers counts the distinct servers s has routes to (a route pool opens
// several connections to each).
func peers(s *server.Server) int {
	rz, err := s.Routez(nil)
	if err != nil {
		return 0
	}
	ids := map[string]bool{}
	for _, r := range rz.Routes {
		ids[r.RemoteID] = true
	}
	return len(ids)
}

// URLs returns the client URLs of servers, as a node's seed list.
func URLs(servers ...*server.Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.ClientURL()
	}
	return out
}
