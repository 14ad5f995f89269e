package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/mesh"
)

// The data directory of `stoa up` and what it keeps there besides
// JetStream's store (under jetstream/).
const (
	defaultDataDir = ".stoa"
	natsURLFile    = "nats.url"  // the client URL of the running stoa up, owner-only
	natsConfFile   = "nats.conf" // nats-server settings, written on the first start
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
		idle, drain                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything on this machine: NATS with JetStream and a function worker",
		Long: `Run everything Stoa needs on this machine, in one process: an embedded NATS
server with JetStream keeping its state in the data directory (./.stoa by
default), and a function worker that runs the deployed functions.

  stoa up
  stoa up --data /var/lib/stoa --listen 127.0.0.1:4222

It prints what it started and where, then serves until Ctrl-C (or SIGTERM),
when it lets the invocations in flight finish and stops. Functions, versions
and aliases live in JetStream, so they are all there at the next start.

The NATS URL is written to DATA/nats.url (readable by you only), where
"stoa fn ..." and "stoa worker" find it when given no --nats. DATA/nats.conf
holds nats-server settings (a payload cap of 8 MB, so that Lambda's 6 MB
payloads fit); edit it to change them.

HTTP (--http): /livez and /healthz (the process is up), /readyz (NATS,
JetStream and the worker can serve; 503 while stopping), /metrics.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			return runUp(cmd, upOptions{dataDir: dataDir, listen: listen, httpAddr: httpAddr, idle: idle, drain: drain, log: log})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dataDir, "data", defaultDataDir, "data directory: JetStream's store, nats.url, nats.conf")
	fs.StringVar(&listen, "listen", "127.0.0.1:4222", "host:port for NATS clients (port 0 picks a free one)")
	fs.StringVar(&httpAddr, "http", "127.0.0.1:8222", "host:port for /healthz, /readyz and /metrics (\"\" for none)")
	fs.DurationVar(&idle, "idle", worker.DefaultIdleTimeout, "how long an idle function environment stays warm")
	fs.DurationVar(&drain, "drain-timeout", 30*time.Second, "on Ctrl-C or SIGTERM, the most the shutdown may take")
	fs.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	return cmd
}

type upOptions struct {
	dataDir, listen, httpAddr string
	idle, drain               time.Duration
	log                       *slog.Logger
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

	urlFile := filepath.Join(data, natsURLFile)
	if err := writePrivate(urlFile, b.ClientURL()+"\n"); err != nil {
		return err
	}
	defer removeIfMine(urlFile, b.ClientURL())

	var stopping atomic.Bool
	health, err := serveHealth(o.httpAddr, metrics, &stopping, func() error {
		if err := b.Ready(); err != nil {
			return err
		}
		return w.Ready()
	})
	if err != nil {
		return err
	}

	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "stoa up: NATS %s, JetStream in %s\n", b.ClientURL(), data)
	fmt.Fprintf(out, "stoa up: function worker serving %s (deploy with: stoa fn create --name NAME --runtime RUNTIME DIR)\n", worker.Pattern)
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
