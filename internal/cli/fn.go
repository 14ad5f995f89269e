package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/gateway"
)

// fnFlags are the flags every stoa fn command has: where NATS is, or
// which gateway's management API to use instead.
type fnFlags struct {
	nats    natsFlags
	dataDir string
	gateway string
	token   string
}

func (f *fnFlags) register(fs *pflag.FlagSet) {
	f.nats.register(fs)
	fs.StringVar(&f.dataDir, "data", defaultDataDir, "without --nats: the data directory of the stoa up to use")
	fs.StringVar(&f.gateway, "gateway", "", "use this gateway's management API (http://host:8080) instead of NATS")
	fs.StringVar(&f.token, "token", "", "with --gateway: the management API's token (env STOA_GATEWAY_TOKEN; default: DATA/gateway.token)")
}

// api returns the client of the gateway given by --gateway.
func (f *fnFlags) api() (*apiClient, error) {
	if f.nats.urls != "" {
		return nil, usageError{errors.New("give --gateway or --nats, not both")}
	}
	tok, err := gatewayToken(f.token, f.dataDir, os.Getenv)
	if err != nil {
		return nil, err
	}
	return newAPIClient(f.gateway, tok)
}

// backend opens what the command works through: the management API of
// --gateway, else the function registry over NATS.
func (f *fnFlags) backend(ctx context.Context) (fnBackend, func(), error) {
	if f.gateway != "" {
		c, err := f.api()
		if err != nil {
			return nil, nil, err
		}
		return c, func() {}, nil
	}
	reg, _, done, err := f.registry(ctx)
	if err != nil {
		return nil, nil, err
	}
	return registryBackend{reg: reg}, done, nil
}

// routesGateway is the gateway to ask for a function's route URLs:
// --gateway's, else the one the local stoa up runs; nil, with the reason,
// when there is none to ask.
func (f *fnFlags) routesGateway() (*apiClient, error) {
	if f.gateway != "" {
		return f.api()
	}
	if f.nats.urls != "" || os.Getenv("NATS_URL") != "" {
		return nil, errors.New("no gateway given (--gateway URL) to ask for the routes' URLs")
	}
	u := localGateway(f.dataDir)
	if u == "" {
		return nil, fmt.Errorf("the stoa up of %s runs no gateway to serve the routes", f.dataDir)
	}
	tok, err := gatewayToken(f.token, f.dataDir, os.Getenv)
	if err != nil {
		return nil, err
	}
	return newAPIClient(u, tok)
}

// registry connects and opens the function registry. The connection
// fails at once if no server answers: a one-shot command should not wait
// for one.
func (f *fnFlags) registry(ctx context.Context) (*fn.Registry, jetstream.JetStream, func(), error) {
	url, auth, err := natsTarget(&f.nats, f.dataDir, os.Getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	nc, err := connect(ctx, url, auth, "stoa-fn", nats.RetryOnFailedConnect(false), nats.MaxReconnects(0))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w (is stoa up running?)", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	octx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	reg, err := fn.Open(octx, js)
	if err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("the function registry at %s: %w", url, err)
	}
	return reg, js, nc.Close, nil
}

func fnCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fn",
		Short: "Deploy, invoke and manage functions",
		Long: `Deploy, invoke and manage functions: Lambda code run by the workers of the
mesh, kept in the registry in JetStream, in the manner of claudia.

  stoa fn create --name hello --runtime node --handler app.handler ./app
  stoa fn invoke hello --payload '{"name":"Ada"}'
  stoa fn update --name hello ./app
  stoa fn alias hello prod 1
  stoa fn logs hello --follow

Every command finds the local stoa up through ./.stoa/nats.url (--data for
another data directory), or talks to the NATS given by --nats or NATS_URL.
With --gateway URL, they use that gateway's management API instead (but
logs, which only NATS carries), with the token of --token,
STOA_GATEWAY_TOKEN or ./.stoa/gateway.token.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(fnCreateCmd(), fnUpdateCmd(), fnInvokeCmd(), fnListCmd(), fnVersionsCmd(), fnAliasCmd(), fnLogsCmd(), fnRmCmd())
	return cmd
}

// configFlags are the flags that set a function's configuration.
type configFlags struct {
	cfg     fn.Config
	timeout time.Duration
	env     []string
	routes  []string
	fs      *pflag.FlagSet
}

func (c *configFlags) register(fs *pflag.FlagSet) {
	c.fs = fs
	fs.StringVar(&c.cfg.Runtime, "runtime", "", "provided (a bootstrap executable), go (a main package, built for you) or node")
	fs.StringVar(&c.cfg.Handler, "handler", "", "node: file.export (app.handler); others: passed as _HANDLER")
	fs.IntVar(&c.cfg.MemoryMB, "memory", 0, "memory size in MB (default 128)")
	fs.DurationVar(&c.timeout, "timeout", 0, "the longest an invocation may run (default 3s)")
	fs.IntVar(&c.cfg.TmpMB, "tmp", 0, "size of /tmp in MB (default 512)")
	fs.IntVar(&c.cfg.Concurrency, "concurrency", 0, "environments at most, per worker (default 10)")
	fs.StringArrayVar(&c.env, "env", nil, "an environment variable NAME=VALUE; repeatable")
	fs.StringVar(&c.cfg.Description, "description", "", "what the function does")
	fs.StringArrayVar(&c.routes, "route", nil, "a gateway route to the function, METHOD:/path (GET:/hello, ANY:/users/{id}); repeatable")
}

// changed reports whether any configuration flag was given.
func (c *configFlags) changed() bool {
	for _, n := range []string{"runtime", "handler", "memory", "timeout", "tmp", "concurrency", "env", "description", "route"} {
		if c.fs.Changed(n) {
			return true
		}
	}
	return false
}

// apply writes the flags given onto cfg.
func (c *configFlags) apply(cfg *fn.Config) error {
	set := func(name string, f func()) {
		if c.fs.Changed(name) {
			f()
		}
	}
	set("runtime", func() { cfg.Runtime = c.cfg.Runtime })
	set("handler", func() { cfg.Handler = c.cfg.Handler })
	set("memory", func() { cfg.MemoryMB = c.cfg.MemoryMB })
	set("timeout", func() { cfg.Timeout = fn.Duration(c.timeout) })
	set("tmp", func() { cfg.TmpMB = c.cfg.TmpMB })
	set("concurrency", func() { cfg.Concurrency = c.cfg.Concurrency })
	set("description", func() { cfg.Description = c.cfg.Description })
	set("route", func() { cfg.Routes = slices.Clone(c.routes) })
	if c.fs.Changed("env") {
		cfg.Env = map[string]string{}
		for _, kv := range c.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usageError{fmt.Errorf("--env %q: want NAME=VALUE", kv)}
			}
			cfg.Env[k] = v
		}
	}
	return nil
}

// bundleArg is the code a create or update deploys: a directory, or a
// file ending in .zip.
func bundleArg(args []string) (fn.Bundle, string, error) {
	path := "."
	if len(args) == 1 {
		path = args[0]
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", usageError{fmt.Errorf("bundle: %w", err)}
	}
	if st.IsDir() {
		return fn.DirBundle(path), path, nil
	}
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		return fn.ZipBundle(path), path, nil
	}
	return nil, "", usageError{fmt.Errorf("bundle %s: want a directory or a .zip file", path)}
}

// deployed is what create and update print, in the manner of claudia:
// the function, and the gateway's routes to it with the URLs that serve
// them (claudia's "api").
type deployed struct {
	Lambda deployedFn   `json:"lambda"`
	API    *deployedAPI `json:"api,omitempty"`
}

type deployedAPI struct {
	URL    string          `json:"url,omitempty"`    // the gateway's
	Module string          `json:"module,omitempty"` // --api-module
	Routes []deployedRoute `json:"routes"`
}

type deployedRoute struct {
	Route string `json:"route"`         // "GET /hello"
	URL   string `json:"url,omitempty"` // where it is served, once it is
	Error string `json:"error,omitempty"`
}

type deployedFn struct {
	Name       string `json:"name"`
	Version    int    `json:"version"`
	Runtime    string `json:"runtime"`
	Handler    string `json:"handler,omitempty"`
	CodeSHA256 string `json:"codeSha256"`
	CodeSize   int64  `json:"codeSize"`
}

// printDeployed prints what create or update deployed. When the version
// declares routes, it first asks the gateway (--gateway's, or the local
// stoa up's) for them, which answers once it routes by this version, so
// that the URLs printed serve the function when this returns.
func printDeployed(cmd *cobra.Command, f *fnFlags, v *fn.Version, module string) error {
	d := deployed{Lambda: deployedFn{Name: v.Function, Version: v.Number, Runtime: v.Config.Runtime,
		Handler: v.Config.Handler, CodeSHA256: v.CodeSHA, CodeSize: v.CodeSize}}
	if len(v.Config.Routes) > 0 || module != "" {
		d.API = &deployedAPI{Module: module, Routes: []deployedRoute{}}
		for _, spec := range v.Config.Routes {
			r, err := gateway.ParseRoute(spec)
			key := spec
			if err == nil {
				key = r.Key()
			}
			d.API.Routes = append(d.API.Routes, deployedRoute{Route: key})
		}
		if err := routeURLs(cmd.Context(), f, v.Function, d.API); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "stoa: the function is deployed, but its routes' URLs are unknown:", err)
		}
		for _, r := range d.API.Routes {
			if r.Error != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "stoa: route %s is not served: %s\n", r.Route, r.Error)
			}
		}
	}
	return printJSON(cmd.OutOrStdout(), d)
}

// routeURLs fills in where the gateway serves each route of the function.
func routeURLs(ctx context.Context, f *fnFlags, name string, api *deployedAPI) error {
	c, err := f.routesGateway()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	routes, conflicts, err := c.routes(ctx, name)
	if err != nil {
		return err
	}
	api.URL = c.base
	served := map[string]bool{}
	for _, r := range routes {
		served[r.Key()] = true
	}
	left := map[string]string{}
	for _, cf := range conflicts {
		left[cf.Route.Key()] = cf.Error
	}
	for i, r := range api.Routes {
		switch {
		case served[r.Route]:
			_, path, _ := strings.Cut(r.Route, " ")
			api.Routes[i].URL = c.base + path
		case left[r.Route] != "":
			api.Routes[i].Error = left[r.Route]
		default:
			api.Routes[i].Error = "not in effect on the gateway yet"
		}
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes %s, got %d arguments", cmd.CommandPath(), what, len(args))}
		}
		return nil
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s, got %d arguments", cmd.CommandPath(), what, len(args))}
		}
		return nil
	}
}

func fnCreateCmd() *cobra.Command {
	var f fnFlags
	var c configFlags
	var name, module string
	cmd := &cobra.Command{
		Use:   "create --name NAME --runtime RUNTIME [flags] [BUNDLE]",
		Short: "Deploy a new function",
		Long: `Deploy a new function: store its code (BUNDLE, a directory or a .zip; the
current directory by default) and configuration as version 1, and print
JSON naming it, as claudia create does.

  stoa fn create --name hello --runtime node --handler app.handler ./app
  stoa fn create --name hello --runtime go ./hello        # a Go main package
  stoa fn create --name hello --runtime provided ./dist   # a bootstrap executable
  stoa fn create --name hello --runtime node --handler app.handler --route GET:/hello ./app
  stoa fn create --api-module app ./app                    # a claudia-api-builder app

--route gives the gateway routes to the function (repeatable). The JSON
then has "api": the gateway's URL and each route's URL, printed once the
gateway serves them (the local stoa up's gateway, or --gateway's), so that
curl on them answers at once.

--api-module MODULE deploys a claudia-api-builder app as claudia create
--api-module does: the routes are the ones the app declares (node runs the
module's apiConfig()), the runtime node and the handler MODULE.proxyRouter
unless given, and the name, unless given, package.json's.

The bundle is checked before anything is stored; a bad one is refused with
the reason, and the registry is left as it was.`,
		Args: maxArgs(1, "one BUNDLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, path, err := bundleArg(args)
			if err != nil {
				return err
			}
			var cfg fn.Config
			if err := c.apply(&cfg); err != nil {
				return err
			}
			if module != "" {
				if err := applyAPIModule(cmd.Context(), &cfg, module, path, &name); err != nil {
					return err
				}
			}
			if name == "" {
				return usageError{errors.New("--name is required")}
			}
			be, done, err := f.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			v, err := be.create(cmd.Context(), name, cfg, path)
			if err != nil {
				return err
			}
			return printDeployed(cmd, &f, v, module)
		},
	}
	f.register(cmd.Flags())
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&name, "name", "", "the function's name: letters, digits, - and _ (required, but with --api-module)")
	cmd.Flags().StringVar(&module, "api-module", "", "a claudia-api-builder app's module (app, or lib/app): deploy it with the routes it declares")
	return cmd
}

// applyAPIModule sets what --api-module implies, as claudia does: the
// routes the app's apiConfig() declares (with any --route), the node
// runtime and the handler MODULE.proxyRouter unless given, and the name
// from package.json unless given.
func applyAPIModule(ctx context.Context, cfg *fn.Config, module, dir string, name *string) error {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return usageError{fmt.Errorf("--api-module needs the app's directory as BUNDLE, not %s", dir)}
	}
	module = strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(module), "./"), ".js")
	routes, err := gateway.ClaudiaRoutes(ctx, dir, module)
	if err != nil {
		return fmt.Errorf("--api-module %s: %w", module, err)
	}
	for _, r := range routes {
		if !slices.Contains(cfg.Routes, r) {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	if cfg.Runtime == "" {
		cfg.Runtime = fn.RuntimeNode
	}
	if cfg.Handler == "" {
		cfg.Handler = module + ".proxyRouter"
	}
	if *name == "" {
		var pkg struct {
			Name string `json:"name"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil {
			*name = pkg.Name
		}
		if *name == "" {
			return usageError{errors.New("--name is required: the app's package.json names no package")}
		}
	}
	return nil
}

func fnUpdateCmd() *cobra.Command {
	var f fnFlags
	var c configFlags
	var name, module string
	var keepCode bool
	cmd := &cobra.Command{
		Use:   "update --name NAME [flags] [BUNDLE]",
		Short: "Deploy a new version of a function",
		Long: `Deploy a new version of a function with no downtime: store the code of
BUNDLE (the current directory by default) as the next version, with the
latest version's configuration changed by the flags given, and move latest
to it. Invocations in flight finish on the version they began on; every
invocation that starts once this command has returned runs the new one.

  stoa fn update --name hello ./app
  stoa fn update --name hello --memory 256 --keep-code
  stoa fn update --name hello --api-module app ./app   # the app's routes again

--route replaces the function's routes; --api-module reads them from the
app again, as claudia update does.`,
		Args: maxArgs(1, "one BUNDLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return usageError{errors.New("--name is required")}
			}
			path := ""
			if !keepCode {
				var err error
				if _, path, err = bundleArg(args); err != nil {
					return err
				}
			} else if len(args) > 0 {
				return usageError{errors.New("--keep-code takes no BUNDLE")}
			}
			if module != "" && keepCode {
				return usageError{errors.New("--api-module needs the app's directory, not --keep-code")}
			}
			be, done, err := f.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			var cfg *fn.Config
			if c.changed() || module != "" {
				latest, err := be.latest(cmd.Context(), name)
				if err != nil {
					return err
				}
				cfg = &latest.Config
				if err := c.apply(cfg); err != nil {
					return err
				}
				if module != "" {
					if !c.fs.Changed("route") {
						cfg.Routes = nil
					}
					if err := applyAPIModule(cmd.Context(), cfg, module, path, &name); err != nil {
						return err
					}
				}
			}
			v, err := be.update(cmd.Context(), name, cfg, path)
			if err != nil {
				return err
			}
			return printDeployed(cmd, &f, v, module)
		},
	}
	f.register(cmd.Flags())
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&name, "name", "", "the function to update (required)")
	cmd.Flags().StringVar(&module, "api-module", "", "a claudia-api-builder app's module: take its routes again")
	cmd.Flags().BoolVar(&keepCode, "keep-code", false, "keep the latest version's code: change only the configuration")
	return cmd
}
