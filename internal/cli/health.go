package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthServer serves /livez, /healthz, /readyz and /metrics.
type healthServer struct {
	srv  *http.Server
	addr string
}

// serveHealth listens on addr ("" for no server, then it returns nil) and
// serves the health endpoints: /readyz answers 503 while stopping is set
// or ready fails.
func serveHealth(addr string, reg *prometheus.Registry, stopping *atomic.Bool, ready func() error) (*healthServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	mux := http.NewServeMux()
	live := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	h := &healthServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String()}
	go h.srv.Serve(ln)
	return h, nil
}

func (h *healthServer) shutdown(ctx context.Context) {
	if h != nil {
		h.srv.Shutdown(ctx)
	}
}
