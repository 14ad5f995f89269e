package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

// natsFlags are the flags of a command that talks to the mesh: where NATS
// is and how to log in. Each flag left empty falls back to natscli's
// environment variable (NATS_URL, NATS_USER, …), then to the default.
type natsFlags struct {
	urls string
	auth mesh.Auth
}

func (f *natsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.urls, "nats", "", "NATS servers of the mesh, comma-separated (env NATS_URL; default "+mesh.DefaultURL+")")
	fs.StringVar(&f.auth.User, "nats-user", "", "NATS user (env NATS_USER)")
	fs.StringVar(&f.auth.Password, "nats-password", "", "NATS password (env NATS_PASSWORD)")
	fs.StringVar(&f.auth.Token, "nats-token", "", "NATS token (env NATS_TOKEN)")
	fs.StringVar(&f.auth.NkeyFile, "nats-nkey", "", "file holding an nkey seed (env NATS_NKEY)")
	fs.StringVar(&f.auth.Creds, "nats-creds", "", "NATS credentials file (env NATS_CREDS)")
	fs.StringVar(&f.auth.TLSCert, "nats-tls-cert", "", "client certificate, PEM (env NATS_CERT)")
	fs.StringVar(&f.auth.TLSKey, "nats-tls-key", "", "client key, PEM (env NATS_KEY)")
	fs.StringVar(&f.auth.TLSCA, "nats-tls-ca", "", "CA to trust for the server, PEM (env NATS_CA)")
}

// options returns the mesh options of the flags over the environment.
func (f *natsFlags) options(getenv func(string) string) []mesh.Option {
	env := mesh.AuthFromEnv(getenv)
	a := f.auth
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return env
	}
	a.User, a.Password = pick(a.User, env.User), pick(a.Password, env.Password)
	a.Token, a.NkeyFile, a.Creds = pick(a.Token, env.Token), pick(a.NkeyFile, env.NkeyFile), pick(a.Creds, env.Creds)
	a.TLSCert, a.TLSKey, a.TLSCA = pick(a.TLSCert, env.TLSCert), pick(a.TLSKey, env.TLSKey), pick(a.TLSCA, env.TLSCA)
	opts := []mesh.Option{mesh.WithAuth(a)}
	if u := pick(f.urls, getenv("NATS_URL")); u != "" {
		opts = append(opts, mesh.WithURLs(u))
	}
	return opts
}

// connectTimeout bounds how long a one-shot command waits for NATS.
const connectTimeout = 10 * time.Second

// meshEngine returns a new engine joined to the mesh as a node that serves
// nothing, so that every pin of the mesh answers its acts, and a function
// that leaves the mesh and closes the engine. stoa act uses it when given
// --nats.
func (f *natsFlags) meshEngine(ctx context.Context) (*stoa.Engine, func(), error) {
	e := stoa.New()
	jctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	n, err := mesh.Join(jctx, e, append(f.options(os.Getenv), mesh.WithName("stoa-act"))...)
	if err != nil {
		e.Close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return e, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		n.Close(cctx)
		e.Close(cctx)
	}, nil
}

func meshCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "Look at the mesh",
		Long:  `Look at the mesh: the nodes that are there and the pins they serve.`,
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(meshLsCmd())
	return cmd
}

func meshLsCmd() *cobra.Command {
	var f natsFlags
	var asJSON bool
	var wait, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the nodes of the mesh and their pins",
		Long: `List the nodes of the mesh, the pins each serves and the acts it served on
them, then every pin with its number of providers. It asks the NATS service
API ($SRV.INFO, $SRV.STATS), so only live nodes answer; it does not join.

  stoa mesh ls
  stoa mesh ls --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			peers, err := mesh.List(ctx, append(f.options(os.Getenv), mesh.WithDiscoveryWait(wait))...)
			if err != nil {
				return err
			}
			pins := mesh.Pins(peers)
			w := cmd.OutOrStdout()
			if asJSON {
				if peers == nil {
					peers = []mesh.Peer{}
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Nodes []mesh.Peer     `json:"nodes"`
					Pins  []mesh.PinCount `json:"pins"`
				}{peers, pins})
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tID\tPIN\tACTS")
			for _, p := range peers {
				if len(p.Pins) == 0 {
					fmt.Fprintf(tw, "%s\t%s\t-\t\n", p.Name, p.ID)
				}
				for _, pin := range p.Pins {
					idem := ""
					if pin.Idempotent {
						idem = " (idempotent)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s%s\t%d\n", p.Name, p.ID, pin.Pattern, idem, pin.Acts)
				}
			}
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "PIN\tPROVIDERS\tACTS")
			for _, pc := range pins {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", pc.Pattern, pc.Providers, pc.Acts)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(peers) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no Stoa node answered at", strings.Join(natsURLs(f.urls), ","))
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: {nodes: [...], pins: [...]}")
	cmd.Flags().DurationVar(&wait, "wait", 250*time.Millisecond, "how long to wait for more nodes after the last answer")
	cmd.Flags().DurationVar(&timeout, "timeout", connectTimeout, "how long to wait for a NATS server")
	return cmd
}

func natsURLs(flag string) []string {
	if flag != "" {
		return []string{flag}
	}
	if u := os.Getenv("NATS_URL"); u != "" {
		return []string{u}
	}
	return []string{mesh.DefaultURL}
}
