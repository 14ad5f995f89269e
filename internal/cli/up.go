package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/mesh"
)

// The data directory of `stoa up` and what it keeps there besides
// JetStream's store (under jetstream/).
const (
	defaultDataDir = ".stoa"
	natsURLFile    = "nats.url"  // the client URL of the running stoa up, owner-only
	natsConfFile   = "nats.conf" // nats-server settings, written on the first start
	// The gateway's management token, made on the first start (owner-only),
	// and the URL of the running gateway (owner-only, removed at exit),
	// where "stoa fn ..." finds them.
	gatewayTokenFile = "gateway.token"
	gatewayURLFile   = "gateway.url"
)

// upNATSConf is what stoa up writes to nats.conf on the first start: a
// payload limit that lets Lambda's 6 MB payloads cross the mesh (NATS's
// default is 1 MB). The user may edit the file; it is read at each start.
const upNATSConf = `# nats-server settings for stoa up, read at each start; edit as needed.
# Lambda's request and response payloads reach 6 MB; NATS's default cap is 1 MB.
max_payload: 8MB
`

func upCmd() *cobra.Command {
	var (
		dataDir, listen, httpAddr, logLevel string
		gatewayAddr                         string
		idle, drain                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything on this machine: NATS with JetStream, a function worker and the gateway",
		Long: `Run everything Stoa needs on this machine, in one process: an embedded NATS
server with JetStream keeping its state in the data directory (./.stoa by
default), a function worker that runs the deployed functions, and the HTTP
gateway (on :8080) that serves the functions' routes and the management
API.

  stoa up
  stoa up --data /var/lib/stoa --listen 127.0.0.1:4222 --gateway 127.0.0.1:9000
  stoa up --gateway ""          # no gateway

It prints what it started and where, then serves until Ctrl-C (or SIGTERM),
when it lets the invocations in flight finish and stops. Functions, versions
and aliases live in JetStream, so they are all there at the next start.

The NATS URL is written to DATA/nats.url (readable by you only), where
"stoa fn ..." and "stoa worker" find it when given no --nats. DATA/nats.conf
holds nats-server settings (a payload cap of 8 MB, so that Lambda's 6 MB
payloads fit); edit it to change them.

If the default gateway address (:8080) is taken, stoa up says so and runs
without the gateway; an address given with --gateway must be free.

The gateway's management API (/_stoa/api/v1) needs a bearer token: the
first start makes one and keeps it in DATA/gateway.token (readable by you
only), where "stoa fn ... --gateway URL" finds it; later starts use it.
The gateway's URL is written to DATA/gateway.url while it runs, so that
"stoa fn create --route" can print the URL that serves the function.

HTTP (--http): /livez and /healthz (the process is up), /readyz (NATS,
JetStream and the worker can serve; 503 while stopping), /metrics.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			return runUp(cmd, upOptions{dataDir: dataDir, listen: listen, httpAddr: httpAddr, gatewayAddr: gatewayAddr,
				gatewayExplicit: cmd.Flags().Changed("gateway"), idle: idle, drain: drain, log: log})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dataDir, "data", defaultDataDir, "data directory: JetStream's store, nats.url, nats.conf")
	fs.StringVar(&listen, "listen", "127.0.0.1:4222", "host:port for NATS clients (port 0 picks a free one)")
	fs.StringVar(&httpAddr, "http", "127.0.0.1:8222", "host:port for /healthz, /readyz and /metrics (\"\" for none)")
	fs.StringVar(&gatewayAddr, "gateway", gateway.DefaultAddr, "host:port for the HTTP gateway (routes and management API; \"\" for none)")
	fs.DurationVar(&idle, "idle", worker.DefaultIdleTimeout, "how long an idle function environment stays warm")
	fs.DurationVar(&drain, "drain-timeout", 30*time.Second, "on Ctrl-C or SIGTERM, the most the shutdown may take")
	fs.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	return cmd
}

type upOptions struct {
	dataDir, listen, httpAddr, gatewayAddr string
	gatewayExplicit                        bool // --gateway was given
	idle, drain                            time.Duration
	log                                    *slog.Logger
}

// runUp runs the base and the worker until the command's context ends.
func runUp(cmd *cobra.Command, o upOptions) error {
	ctx := cmd.Context()
	data, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	unlock, err := lockData(data)
	if err != nil {
		return err
	}
	defer unlock()
	conf := filepath.Join(data, natsConfFile)
	if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(conf, []byte(upNATSConf), 0o600); err != nil {
			return err
		}
	}
	b := &mesh.Base{Listen: o.listen, JetStream: true, DataDir: data, ConfigFile: conf}
	if o.log.Enabled(ctx, slog.LevelInfo) {
		b.Logger = o.log
	}
	if err := b.Start(); err != nil {
		return err
	}
	defer b.Close()

	// The worker and the registry reach the server in process, without a
	// socket.
	nc, err := connect(ctx, "", mesh.Auth{}, "stoa-up", nats.InProcessServer(b.Server()))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	reg, err := fn.Open(ctx, js)
	if err != nil {
		return err
	}
	metrics := newMetrics()
	w := &worker.Worker{Conn: nc, Registry: reg, Name: "stoa-up", IdleTimeout: o.idle, Logger: o.log,
		MeshOptions: []mesh.Option{mesh.WithRegisterer(metrics)}}
	if err := w.Start(ctx); err != nil {
		return err
	}
	defer w.Close()
	metrics.MustRegister(w.Collector())

	// The gateway has its own in-process connection, engine and mesh node:
	// it reaches the worker over the mesh, as any gateway does.
	var gw *upGateway
	var noGateway string // why the default gateway did not start
	if o.gatewayAddr != "" {
		ln, why, err := listenGateway(o.gatewayAddr, o.gatewayExplicit)
		if err != nil {
			return err
		}
		noGateway = why
		if ln != nil {
			if gw, err = startUpGateway(ctx, b, data, o, reg, metrics, ln); err != nil {
				return err
			}
			defer gw.close()
		}
	}

	urlFile := filepath.Join(data, natsURLFile)
	if err := writePrivate(urlFile, b.ClientURL()+"\n"); err != nil {
		return err
	}
	defer removeIfMine(urlFile, b.ClientURL())
	gwURLFile := filepath.Join(data, gatewayURLFile)
	if gw != nil {
		if err := writePrivate(gwURLFile, gw.url+"\n"); err != nil {
			return err
		}
		defer removeIfMine(gwURLFile, gw.url)
	}

	var stopping atomic.Bool
	health, err := serveHealth(o.httpAddr, metrics, &stopping, func() error {
		if err := b.Ready(); err != nil {
			return err
		}
		if gw != nil {
			if err := gw.s.Ready(); err != nil {
				return fmt.Errorf("gateway: %w", err)
			}
		}
		return w.Ready()
	})
	if err != nil {
		return err
	}

	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "stoa up: NATS %s, JetStream in %s\n", b.ClientURL(), data)
	fmt.Fprintf(out, "stoa up: function worker serving %s (deploy with: stoa fn create --name NAME --runtime RUNTIME DIR)\n", worker.Pattern)
	if gw != nil {
		fmt.Fprintf(out, "stoa up: gateway on %s (management API %s%s, token in %s)\n", gw.url, gw.url, gateway.APIPrefix, gw.tokenFile)
	}
	if noGateway != "" {
		fmt.Fprintln(out, "stoa up: gateway NOT started:", noGateway)
	}
	if health != nil {
		fmt.Fprintf(out, "stoa up: health on http://%s/readyz\n", health.addr)
	}
	fmt.Fprintln(out, limitsLine(lambda.HostLimits()))
	fmt.Fprintln(out, "stoa up: ready; press Ctrl-C to stop")

	<-ctx.Done()
	stopping.Store(true)
	o.log.Info("stoa up: stopping")
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.drain)
	defer cancel()
	if gw != nil {
		// The requests in flight finish first: they need the worker.
		removeIfMine(gwURLFile, gw.url)
		if err := gw.shutdown(dctx); err != nil {
			o.log.Warn("stoa up: gateway shutdown", "err", err)
		}
		gw.close() // its mesh node leaves while NATS is still up
	}
	err = w.Shutdown(dctx)
	health.shutdown(dctx)
	removeIfMine(urlFile, b.ClientURL())
	nc.Close() // the worker has drained what it served
	b.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintln(out, "stoa up: stopped")
	return nil
}

// upGateway is the gateway stoa up runs, and what it closes.
type upGateway struct {
	s         *gateway.Server
	url       string // where clients reach it: http://127.0.0.1:8080
	tokenFile string
	served    chan error
	closers   []func()
}

// startUpGateway starts the gateway of stoa up: the management token from
// (or made in) the data directory, an engine joined to the mesh through
// its own in-process connection, the route store and the function
// registry on the same JetStream.
func startUpGateway(ctx context.Context, b *mesh.Base, data string, o upOptions, reg *fn.Registry, metrics *prometheus.Registry, ln net.Listener) (_ *upGateway, err error) {
	g := &upGateway{tokenFile: filepath.Join(data, gatewayTokenFile)}
	defer func() {
		if err != nil {
			ln.Close()
			g.close()
		}
	}()
	tok, err := gateway.TokenFile(g.tokenFile)
	if err != nil {
		return nil, err
	}
	nc, err := connect(ctx, "", mesh.Auth{}, "stoa-up-gateway", nats.InProcessServer(b.Server()))
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, nc.Close)
	e := stoa.New(stoa.WithTimeout(gatewayActTimeout), stoa.WithLogger(o.log))
	g.closers = append(g.closers, func() { e.Close(context.Background()) })
	jctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	node, err := mesh.Join(jctx, e, mesh.WithConn(nc), mesh.WithName("stoa-up-gateway"), mesh.WithRegisterer(metrics), mesh.WithLogger(o.log))
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		node.Close(cctx)
	})
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	store, err := gateway.OpenStore(jctx, js, jetstream.KeyValueConfig{})
	if err != nil {
		return nil, err
	}
	g.s = &gateway.Server{Engine: e, Addr: o.gatewayAddr, Store: store, Registry: reg, Token: tok, Metrics: metrics, Logger: o.log}
	if err := g.s.Start(jctx); err != nil {
		return nil, err
	}
	g.url = "http://" + dialable(ln.Addr())
	g.served = make(chan error, 1)
	go func() { g.served <- g.s.Serve(ln) }()
	return g, nil
}

// listenGateway listens on the gateway's address. An address given with
// --gateway must be free; when the default (:8080) is taken, by another
// program or another stoa up, stoa up runs without a gateway and says why
// (the returned reason), rather than not at all.
func listenGateway(addr string, explicit bool) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, "", nil
	case !explicit && errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Sprintf("%s is in use (--gateway HOST:PORT to pick another address)", addr), nil
	}
	return nil, "", fmt.Errorf("--gateway: %w (pick another address with --gateway HOST:PORT, or --gateway \"\" for none)", err)
}

// shutdown drains the gateway: the requests in flight are answered.
func (g *upGateway) shutdown(ctx context.Context) error {
	err := g.s.Shutdown(ctx)
	<-g.served
	return err
}

// close closes what startUpGateway opened, the last first.
func (g *upGateway) close() {
	if g.s != nil {
		g.s.Close()
	}
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
	g.closers = nil
}

// dialable is the address a client on this machine dials to reach a
// listener: the loopback address when it listens on every interface.
func dialable(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
}

// limitsLine says which of Lambda's limits this host cannot enforce, and
// why, or that it enforces them all.
func limitsLine(limits []lambda.Limit) string {
	var missing, names []string
	for _, l := range limits {
		names = append(names, l.Name)
		if !l.Enforced {
			missing = append(missing, l.Name+" ("+l.How+")")
		}
	}
	if len(missing) == 0 {
		return "stoa up: every Lambda limit is enforced here: " + strings.Join(names, ", ")
	}
	return "stoa up: Lambda limits NOT enforced on this host: " + strings.Join(missing, "; ")
}

// writePrivate writes s to path, readable by the owner only.
func writePrivate(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removeIfMine removes the URL file if it still names url (a newer stoa up
// on the same data directory may have replaced it).
func removeIfMine(path, url string) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == url {
		os.Remove(path)
	}
}

// newLogger logs JSON to w at the level named.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// newMetrics is a Prometheus registry with the process's own metrics.
func newMetrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// connect connects to NATS with Stoa's settings (mesh.Options) plus extra,
// and waits until the connection is up. url "" is for extra options that
// say where (nats.InProcessServer).
func connect(ctx context.Context, url string, auth mesh.Auth, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := mesh.Options(name, auth)
	if err != nil {
		return nil, err
	}
	up := make(chan struct{}, 1)
	opts = append(opts, nats.ConnectHandler(func(*nats.Conn) {
		select {
		case up <- struct{}{}:
		default:
		}
	}))
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to NATS at %s: %w", url, err)
	}
	if nc.IsConnected() {
		return nc, nil
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	select {
	case <-up:
		return nc, nil
	case <-ctx.Done():
		nc.Close()
		return nil, fmt.Errorf("no NATS server answered at %s: %w", url, ctx.Err())
	}
}
