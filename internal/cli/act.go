package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/demo"
)

func actCmd() *cobra.Command {
	var (
		timeout time.Duration
		nf      natsFlags
	)
	cmd := &cobra.Command{
		Use:   "act MESSAGE",
		Short: "Send one message and print the reply",
		Long: `Send one message and print its JSON reply on stdout.

MESSAGE is a JSON object or Seneca's pattern form:
  stoa act '{"role":"hello","cmd":"sayHello"}'
  stoa act 'role:calculator,cmd:add,operands:[7,3]'

With --nats URL (or the other --nats-* flags), the message goes to the mesh
at URL, as a node that serves nothing: whichever node serves the pin the
message matches answers. Without it, the message goes to an in-process
engine running the demo service (role:hello, role:goodbye, role:calculator).
An error prints its code and message on stderr and exits 1.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("act takes one MESSAGE, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var e *stoa.Engine
			if cmd.Flags().Changed("nats") {
				me, done, err := nf.meshEngine(cmd.Context())
				if err != nil {
					return err
				}
				defer done()
				e = me
			} else {
				e = stoa.New()
				defer e.Close(context.WithoutCancel(cmd.Context()))
				if err := e.Use(demo.Plugin()); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			out, err := e.Act(ctx, messageArg(args[0]))
			if err != nil {
				var se *stoa.Error
				if errors.As(err, &se) && se.Code == stoa.CodeMsgSyntax {
					return usageError{err}
				}
				return err
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, out, "", "  ") != nil {
				pretty.Reset()
				pretty.Write(out)
			}
			fmt.Fprintln(cmd.OutOrStdout(), pretty.String())
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", stoa.DefaultTimeout, "how long to wait for the reply")
	nf.register(cmd.Flags())
	return cmd
}

// messageArg reads a JSON object as JSON (keeping numbers exact), anything
// else as Seneca's pattern form.
func messageArg(s string) any {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	return s
}

func demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a short demonstration of the act engine",
		Long: `Run a short demonstration of the act engine: add the demo service's
patterns, send the chapter's messages, and print each message and reply.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := stoa.New()
			defer e.Close(context.WithoutCancel(cmd.Context()))
			if err := e.Use(demo.Plugin()); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, "patterns:", strings.Join(e.Patterns(), "  "))
			for _, msg := range []string{
				"role:hello,cmd:sayHello",
				"role:goodbye,cmd:sayGoodbye",
				"role:goodbye,cmd:reallySayGoodbye",
				"role:calculator,cmd:add,operands:[7,3]",
				"role:calculator,cmd:subtract,operands:[7,3]",
				"role:calculator,cmd:multiply,operands:[7,3]",
			} {
				out, err := e.Act(cmd.Context(), msg)
				if err != nil {
					fmt.Fprintf(w, "%-46s -> error %v\n", msg, err)
					continue
				}
				fmt.Fprintf(w, "%-46s -> %s\n", msg, out)
			}
			return nil
		},
	}
}
