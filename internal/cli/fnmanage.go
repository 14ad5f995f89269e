package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/worker"
)

// stoa fn list, versions, alias, logs and rm: what is deployed, read and
// changed.

func fnListCmd() *cobra.Command {
	var f fnFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the functions",
		Long:  `List the functions of the registry: name, latest version, aliases, last change.`,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, done, err := f.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			fs, err := be.list(cmd.Context())
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), asJSON, fs, "NAME\tLATEST\tALIASES\tUPDATED", func(f fn.Function) string {
				return fmt.Sprintf("%s\t%d\t%s\t%s", f.Name, f.Latest, aliasList(f.Aliases), f.Updated.Local().Format(time.DateTime))
			})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: [{name, latest, aliases, created, updated}]")
	return cmd
}

// aliasList renders aliases as "prod=3,staging=4", sorted, or "-".
func aliasList(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var out []string
	for a, v := range m {
		out = append(out, a+"="+strconv.Itoa(v))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func fnVersionsCmd() *cobra.Command {
	var f fnFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "versions NAME",
		Short: "List the versions of a function",
		Long:  `List the versions of a function, oldest first, with their configuration and the aliases pointing at each.`,
		Args:  exactArgs(1, "one function NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, done, err := f.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			fu, err := be.get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			vs, err := be.versions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), asJSON, vs, "VERSION\tALIASES\tRUNTIME\tHANDLER\tMEMORY\tTIMEOUT\tCODE\tCREATED", func(v fn.Version) string {
				var as []string
				if v.Number == fu.Latest {
					as = append(as, "latest")
				}
				for a, n := range fu.Aliases {
					if n == v.Number {
						as = append(as, a)
					}
				}
				slices.Sort(as[min(1, len(as)):])
				al := strings.Join(as, ",")
				if al == "" {
					al = "-"
				}
				h := v.Config.Handler
				if h == "" {
					h = "-"
				}
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%d MB\t%s\t%.12s\t%s", v.Number, al, v.Config.Runtime, h, v.Config.MemoryMB,
					v.Config.Timeout, v.CodeSHA, v.Created.Local().Format(time.DateTime))
			})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the versions as JSON")
	return cmd
}

func fnAliasCmd() *cobra.Command {
	var f fnFlags
	var del bool
	cmd := &cobra.Command{
		Use:   "alias NAME ALIAS [VERSION]",
		Short: "Point an alias at a version, or remove it",
		Long: `Point an alias of a function at a version (creating or moving it), or with
--delete remove it. Invokers name the alias with --qualifier; a worker
pre-warms the version an alias moves to.

  stoa fn alias hello prod 3
  stoa fn alias hello prod --delete`,
		Args: func(cmd *cobra.Command, args []string) error {
			if del {
				return exactArgs(2, "NAME and ALIAS with --delete")(cmd, args)
			}
			return exactArgs(3, "NAME, ALIAS and VERSION")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var n int
			if !del {
				var err error
				if n, err = strconv.Atoi(args[2]); err != nil || n < 1 {
					return usageError{fmt.Errorf("VERSION %q: want a version number", args[2])}
				}
			}
			be, done, err := f.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if del {
				return be.deleteAlias(cmd.Context(), args[0], args[1])
			}
			if err := be.setAlias(cmd.Context(), args[0], args[1], n); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), map[string]any{"name": args[0], "alias": args[1], "version": n})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&del, "delete", false, "remove the alias")
	return cmd
}

func fnLogsCmd() *cobra.Command {
	var f fnFlags
	var follow bool
	var since time.Duration
	var version int
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a function's logs",
		Long: `Print a function's logs: each invocation's output between Lambda's START,
END and REPORT lines, as the workers kept them (in the JetStream stream
STOA_FN_LOGS, which drops the oldest beyond its age and size limits).

  stoa fn logs hello
  stoa fn logs hello --since 10m --follow`,
		Args: exactArgs(1, "one function NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.gateway != "" {
				return usageError{errors.New("the logs travel over NATS only, not through the management API: give --nats, or run where stoa up runs")}
			}
			_, js, done, err := f.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			opts := worker.LogOptions{Follow: follow, Version: version}
			if since > 0 {
				opts.Since = time.Now().Add(-since)
			}
			w := cmd.OutOrStdout()
			return worker.ReadLogs(cmd.Context(), js, args[0], opts, func(r worker.LogRecord) error {
				_, err := w.Write(r.Text)
				return err
			})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing new logs until interrupted")
	cmd.Flags().DurationVar(&since, "since", 0, "only logs from this long ago on (10m, 2h)")
	cmd.Flags().IntVar(&version, "version", 0, "only this version's logs")
	return cmd
}

func fnRmCmd() *cobra.Command {
	var f fnFlags
	cmd := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a function",
		Long:  `Delete a function: every version, alias and the code. Workers close its environments.`,
		Args:  exactArgs(1, "one function NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, done, err := f.backend(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if err := be.remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "deleted", args[0])
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// printList writes items as a JSON array (empty, not null, when there are
// none), or as a table under header with a row per item.
func printList[T any](w io.Writer, asJSON bool, items []T, header string, row func(T) string) error {
	if asJSON {
		if items == nil {
			items = []T{}
		}
		return printJSON(w, items)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}
