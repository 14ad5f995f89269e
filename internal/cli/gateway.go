package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/mesh"
)

// gatewayActTimeout is the gateway engine's act timeout: above any route's,
// so that routes' own timeouts decide (Lambda's longest function timeout,
// with a margin for a cold start).
const gatewayActTimeout = 15*time.Minute + 30*time.Second

func gatewayCmd() *cobra.Command {
	var (
		nf         natsFlags
		s          gateway.Server
		routesFile string
		tokenFile  string
		bucket     string
		replicas   int
		drain      time.Duration
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the HTTP gateway: routes to functions and act patterns",
		Long: `Run the HTTP gateway of a mesh: it routes requests to functions, which
receive API Gateway proxy events, and to act patterns, with the request
folded into the message.

  stoa gateway --nats nats://127.0.0.1:4222 --listen :8080
  stoa gateway --routes routes.json --token-file /var/lib/stoa/gateway.token

Routes live in the JetStream bucket stoa_routes, which every gateway of the
mesh watches: the NATS server needs JetStream (stoa base --jetstream --data
DIR). --routes loads a routes file into it at start ({"routes": [...]}; each
route replaces the stored route of its key, others stay). The routes that
functions declare (stoa fn create --route GET:/hello) come from the function
registry on the same JetStream, and follow its changes.

The management API (/_stoa/api/v1, OpenAPI document at that path) needs a
bearer token: --token-file reads it from a file, or makes one there (mode
0600) if there is none; STOA_GATEWAY_TOKEN is read when the flag is not
given. Without either, the API is off.

/healthz and /livez (up), /readyz (routes loaded; 503 while draining) and
/metrics (Prometheus) are served on the same port. On SIGTERM /readyz turns
503, the gateway keeps serving for --drain-delay, then finishes the
requests in flight and exits 0. The first line on stdout says where it
listens; logs (JSON, one line per error with its request id) go to stderr.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			switch {
			case tokenFile != "":
				tok, err := gateway.TokenFile(tokenFile)
				if err != nil {
					return err
				}
				s.Token = tok
			case os.Getenv("STOA_GATEWAY_TOKEN") != "":
				s.Token = os.Getenv("STOA_GATEWAY_TOKEN")
			default:
				log.Warn("stoa gateway: no --token-file nor STOA_GATEWAY_TOKEN: the management API is off")
			}
			var routes []gateway.Route
			if routesFile != "" {
				var err error
				if routes, err = gateway.ReadRoutesFile(routesFile); err != nil {
					return usageError{fmt.Errorf("--routes: %w", err)}
				}
			}
			s.Logger = log
			return runGateway(cmd, &s, &nf, routes, jetstream.KeyValueConfig{Bucket: bucket, Replicas: replicas}, drain)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&s.Addr, "listen", gateway.DefaultAddr, "host:port to serve HTTP on")
	fs.StringVar(&routesFile, "routes", "", "routes file (JSON) to load into the route store at start")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the management API's token; made (0600) if missing (env STOA_GATEWAY_TOKEN)")
	fs.StringVar(&s.Stage, "stage", gateway.DefaultStage, "stage name function events carry")
	fs.DurationVar(&s.DefaultTimeout, "timeout", gateway.DefaultTimeout, "timeout of routes that set none")
	fs.Int64Var(&s.MaxBodyBytes, "max-body", gateway.DefaultMaxBodyBytes, "largest request body, bytes; bigger ones get 413")
	fs.StringVar(&bucket, "bucket", gateway.DefaultBucket, "JetStream key-value bucket of the routes")
	fs.IntVar(&replicas, "replicas", 1, "replicas of the route and function buckets when the gateway creates them (3 on a cluster)")
	fs.DurationVar(&s.ShutdownDelay, "drain-delay", 0, "on SIGTERM, how long to keep serving with /readyz at 503 before draining")
	fs.DurationVar(&drain, "drain-timeout", 20*time.Second, "on SIGTERM, the most the whole shutdown may take")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	nf.register(fs)
	return cmd
}

// runGateway joins the mesh, opens the route store, serves until the
// command's context ends, then drains.
func runGateway(cmd *cobra.Command, s *gateway.Server, nf *natsFlags, routes []gateway.Route, kv jetstream.KeyValueConfig, drain time.Duration) error {
	ctx := cmd.Context()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.Metrics = reg

	e := stoa.New(stoa.WithTimeout(gatewayActTimeout), stoa.WithLogger(s.Logger))
	defer e.Close(context.WithoutCancel(ctx))
	jctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	node, err := mesh.Join(jctx, e, append(nf.options(os.Getenv), mesh.WithName("stoa-gateway"), mesh.WithRegisterer(reg), mesh.WithLogger(s.Logger))...)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		node.Close(cctx)
	}()
	s.Engine = e

	js, err := jetstream.New(node.Conn())
	if err != nil {
		return err
	}
	s.Store, err = gateway.OpenStore(jctx, js, kv)
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
			errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (the route store needs JetStream: stoa base --jetstream --data DIR)", err)
		}
		return err
	}
	// The function registry: the function endpoints of the management API,
	// and the routes functions declare.
	if s.Registry, err = fn.Open(jctx, js, fn.WithReplicas(max(1, kv.Replicas))); err != nil {
		return err
	}
	if err := s.Start(jctx); err != nil {
		return err
	}
	if len(routes) > 0 {
		if err := s.AddRoutes(jctx, routes); err != nil {
			return fmt.Errorf("--routes: %w", err)
		}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	where := "http://" + ln.Addr().String()
	fmt.Fprintln(cmd.OutOrStdout(), "ready gateway="+where, "api="+where+gateway.APIPrefix, "nats="+node.Conn().ConnectedUrlRedacted())

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	s.Logger.Info("stoa gateway: draining")
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := s.Shutdown(dctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	<-served
	return nil
}
