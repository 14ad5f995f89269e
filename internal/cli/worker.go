package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/mesh"
)

func workerCmd() *cobra.Command {
	var (
		nf                          natsFlags
		dataDir, httpAddr, logLevel string
		w                           worker.Worker
		drain                       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a function worker on the mesh",
		Long: `Run a function worker: it serves the act fn:NAME for every function of the
registry, running each in Lambda execution environments on this machine.
Workers on one mesh share the acts (a NATS queue group), so a second worker
takes half the load and a worker that stops hands its share to the others.

  stoa worker                        # joins the stoa up of ./.stoa
  stoa worker --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222

Without --nats (or NATS_URL) it joins the stoa up whose data directory is
--data. The first line on stdout says where it serves health (/livez,
/healthz, /readyz, /metrics). On SIGTERM it stops taking new acts at once
(NATS gives them to the other workers), lets those in flight finish, closes
its environments and exits 0.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			url, auth, err := natsTarget(&nf, dataDir, os.Getenv)
			if err != nil {
				return err
			}
			nc, err := connect(ctx, url, auth, "stoa-worker")
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, connectTimeout)
			reg, err := fn.Open(rctx, js)
			cancel()
			if err != nil {
				return fmt.Errorf("the function registry at %s: %w", url, err)
			}
			metrics := newMetrics()
			w.Conn, w.Registry, w.Logger = nc, reg, log
			w.MeshOptions = []mesh.Option{mesh.WithRegisterer(metrics)}
			if err := w.Start(ctx); err != nil {
				return err
			}
			defer w.Close()
			metrics.MustRegister(w.Collector())
			var stopping atomic.Bool
			health, err := serveHealth(httpAddr, metrics, &stopping, w.Ready)
			if err != nil {
				return err
			}
			where := "nats=" + url
			if health != nil {
				where += " http=http://" + health.addr
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready", where)

			<-ctx.Done()
			stopping.Store(true)
			log.Info("stoa worker: draining")
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			defer cancel()
			err = w.Shutdown(dctx)
			health.shutdown(dctx)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	nf.register(fs)
	fs.StringVar(&dataDir, "data", defaultDataDir, "without --nats: the data directory of the stoa up to join")
	fs.StringVar(&w.Name, "name", "stoa-worker", "node name on the mesh")
	fs.StringVar(&w.Dir, "dir", "", "where to keep the code of the functions it runs (default: a temporary directory)")
	fs.DurationVar(&w.IdleTimeout, "idle", worker.DefaultIdleTimeout, "how long an idle function environment stays warm")
	fs.DurationVar(&w.LogMaxAge, "log-max-age", worker.DefaultLogMaxAge, "function logs older than this are dropped")
	fs.Int64Var(&w.LogMaxBytes, "log-max-bytes", worker.DefaultLogMaxBytes, "function logs beyond this size are dropped, oldest first")
	fs.StringVar(&httpAddr, "http", "127.0.0.1:0", "host:port for /healthz, /readyz and /metrics (\"\" for none; port 0 picks one)")
	fs.DurationVar(&drain, "drain-timeout", 30*time.Second, "on SIGTERM, the most the shutdown may take")
	fs.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	return cmd
}

// natsTarget says which NATS a command talks to, and with which
// credentials: --nats, else NATS_URL, else the URL the stoa up of dataDir
// wrote. Credentials come from the flags, else natscli's variables.
func natsTarget(f *natsFlags, dataDir string, getenv func(string) string) (string, mesh.Auth, error) {
	env := mesh.AuthFromEnv(getenv)
	a := f.auth
	pick := func(flag *string, env string) {
		if *flag == "" {
			*flag = env
		}
	}
	pick(&a.User, env.User)
	pick(&a.Password, env.Password)
	pick(&a.Token, env.Token)
	pick(&a.NkeyFile, env.NkeyFile)
	pick(&a.Creds, env.Creds)
	pick(&a.TLSCert, env.TLSCert)
	pick(&a.TLSKey, env.TLSKey)
	pick(&a.TLSCA, env.TLSCA)
	if f.urls != "" {
		return f.urls, a, nil
	}
	if u := getenv("NATS_URL"); u != "" {
		return u, a, nil
	}
	path := filepath.Join(dataDir, natsURLFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", a, fmt.Errorf("no stoa up found (%s does not exist): start \"stoa up\" here, or pass --nats URL", path)
	}
	if err != nil {
		return "", a, err
	}
	u := strings.TrimSpace(string(b))
	if u == "" {
		return "", a, fmt.Errorf("%s is empty: start \"stoa up\" again, or pass --nats URL", path)
	}
	return u, a, nil
}
