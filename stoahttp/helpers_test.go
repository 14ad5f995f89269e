package stoahttp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoahttp"
)

// listen starts srv (with srv.Engine set to e if unset) on a free loopback
// port and returns its base URL; the server is closed when t ends.
func listen(t testing.TB, e *stoa.Engine, srv *stoahttp.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, e, srv, ln)
}

func serveOn(t testing.TB, e *stoa.Engine, srv *stoahttp.Server, ln net.Listener) string {
	t.Helper()
	if srv == nil {
		srv = &stoahttp.Server{}
	}
	if srv.Engine == nil {
		srv.Engine = e
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Connections the default client dialed but never used would hold
		// Close for 5 s (net/http treats a new connection as busy that long).
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close the server: %v", err)
		}
		if err := <-served; !errors.Is(err, stoahttp.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// countingListener counts the connections it accepted and those still
// open (closed by either side, as the server sees it).
type countingListener struct {
	net.Listener
	accepted atomic.Int64
	open     atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	l.open.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// waitFor polls cond until it holds or d passes, and reports whether it
// held: for state that settles by itself (goroutines ending, connections
// closing), with nothing to wait on.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
