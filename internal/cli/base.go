package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa/mesh"
)

func baseCmd() *cobra.Command {
	var (
		b        mesh.Base
		routes   string
		httpAddr string
		nf       natsFlags
		drain    time.Duration
		logLevel string
		maxPay   string
	)
	cmd := &cobra.Command{
		Use:   "base",
		Short: "Run a base node: the NATS server the mesh meets on",
		Long: `Run a base node: a NATS server in this process, which the services and
callers of the mesh connect to (nats://127.0.0.1:4222 by default). Several
bases given each other's --routes form a NATS cluster; give nodes all of
their URLs and they survive the loss of any one.

  stoa base
  stoa base --listen :4222 --cluster :6222 --routes nats://b2:6222,nats://b3:6222
  stoa base --jetstream --data /var/lib/stoa

With --nats, no server is started: the command checks the existing NATS at
those URLs and serves the health endpoints for it.

HTTP (--http): /livez and /healthz (the process is up), /readyz (the server
accepts connections; 503 while draining), /metrics (Prometheus).
On SIGTERM the base turns /readyz to 503, moves its clients to the other
bases (lame duck mode) and exits 0. The first line on stdout says where it
listens; logs go to stderr.

Clients must log in when --user/--password, --token or --nkey-user is set;
--tls-cert/--tls-key turn TLS on, and --tls-ca makes clients present a
certificate; --config reads a nats-server configuration file first.
--max-payload caps one message (8MB by default, so that Lambda's 6 MB
payloads cross the mesh; NATS's own default is 1MB).
STOA_BASE_PASSWORD and STOA_BASE_TOKEN are read when the flags are not given.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if b.Password == "" {
				b.Password = os.Getenv("STOA_BASE_PASSWORD")
			}
			if b.Token == "" {
				b.Token = os.Getenv("STOA_BASE_TOKEN")
			}
			if routes != "" {
				b.Routes = strings.Split(routes, ",")
			}
			if cmd.Flags().Changed("max-payload") {
				n, err := parseSize(maxPay)
				if err != nil || n <= 0 || n > 64<<20 {
					return usageError{fmt.Errorf("--max-payload %q: want a size such as 8MB, at most 64MB", maxPay)}
				}
				b.MaxPayload = int32(n)
			}
			if b.JetStream && b.DataDir == "" {
				return usageError{errors.New("--jetstream needs --data DIR")}
			}
			if level <= slog.LevelInfo {
				b.Logger = log
			}
			return runBase(cmd, &b, &nf, httpAddr, drain, log)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&b.Listen, "listen", "127.0.0.1:4222", "host:port for NATS clients (\":4222\" for every interface)")
	fs.StringVar(&b.Cluster, "cluster", "", "host:port for routes from other bases (default :6222 when --routes is set)")
	fs.StringVar(&b.ClusterName, "cluster-name", "stoa", "cluster name, the same on every base")
	fs.StringVar(&routes, "routes", "", "cluster URLs of the other bases, comma-separated (nats://host:6222)")
	fs.StringVar(&b.Name, "name", "", "server name (default: made up by NATS)")
	fs.BoolVar(&b.JetStream, "jetstream", false, "enable JetStream (needs --data)")
	fs.StringVar(&b.DataDir, "data", "", "JetStream storage directory")
	fs.StringVar(&b.ConfigFile, "config", "", "nats-server configuration file, read before the flags")
	fs.StringVar(&b.User, "user", "", "user clients must log in as (with --password)")
	fs.StringVar(&b.Password, "password", "", "password clients must give (env STOA_BASE_PASSWORD)")
	fs.StringVar(&b.Token, "token", "", "token clients must give (env STOA_BASE_TOKEN)")
	fs.StringSliceVar(&b.NkeyUsers, "nkey-user", nil, "public nkey (U…) allowed to connect; repeatable")
	fs.StringVar(&b.TLSCert, "tls-cert", "", "server certificate, PEM")
	fs.StringVar(&b.TLSKey, "tls-key", "", "server key, PEM")
	fs.StringVar(&b.TLSCA, "tls-ca", "", "CA that client certificates must be signed by")
	fs.StringVar(&maxPay, "max-payload", "8MB", "largest message, as 8MB, 512KB or bytes (a --config file's max_payload counts unless this is given)")
	fs.DurationVar(&b.LameDuck, "lame-duck", 2*time.Second, "on SIGTERM, how long to spend moving clients to other bases")
	fs.DurationVar(&drain, "drain-timeout", 20*time.Second, "on SIGTERM, the most the whole shutdown may take")
	fs.StringVar(&httpAddr, "http", "127.0.0.1:8222", "host:port for /healthz, /readyz and /metrics (\"\" for none)")
	fs.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	nf.register(fs)
	return cmd
}

// parseSize reads a size as nats-server writes it: bytes, or a number
// with KB, MB or GB (powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}

// runBase runs the base until the command's context ends, then drains.
func runBase(cmd *cobra.Command, b *mesh.Base, nf *natsFlags, httpAddr string, drain time.Duration, log *slog.Logger) error {
	ctx := cmd.Context()
	var ready func() error
	var stop func(context.Context) error
	var where string
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cmd.Flags().Changed("nats") {
		// An existing NATS: check it through a connection.
		jctx, cancel := context.WithTimeout(ctx, connectTimeout)
		peers, err := mesh.List(jctx, nf.options(os.Getenv)...)
		cancel()
		if err != nil {
			return err
		}
		log.Info("stoa base: using an existing NATS", "nodes", len(peers))
		where = "nats=" + strings.Join(natsURLs(nf.urls), ",")
		ready = func() error { return nil }
		stop = func(context.Context) error { return nil }
	} else {
		if err := b.Start(); err != nil {
			return err
		}
		s := b.Server()
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stoa_base_connections", Help: "Clients connected to this base."},
				func() float64 { return float64(s.NumClients()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stoa_base_subscriptions", Help: "Subscriptions on this base."},
				func() float64 { return float64(s.NumSubscriptions()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stoa_base_routes", Help: "Route connections to other bases."},
				func() float64 { return float64(s.NumRoutes()) }),
		)
		where = "nats=" + b.ClientURL()
		if u := b.ClusterURL(); u != "" {
			where += " cluster=" + u
		}
		ready = b.Ready
		stop = b.Shutdown
	}

	var draining atomic.Bool
	srv, err := serveHealth(httpAddr, reg, &draining, ready)
	if err != nil {
		stop(context.Background())
		return err
	}
	if srv != nil {
		where += " http=http://" + srv.addr
	}
	fmt.Fprintln(cmd.OutOrStdout(), "ready", where)

	<-ctx.Done()
	draining.Store(true)
	log.Info("stoa base: draining")
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	err = stop(dctx)
	srv.shutdown(dctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
