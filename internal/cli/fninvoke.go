package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/mesh"
)

// stoa fn invoke: over NATS as an act, or through a gateway's management
// API.

func fnInvokeCmd() *cobra.Command {
	var f fnFlags
	var payload, qualifier string
	var timeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Invoke a function and print its reply",
		Long: `Invoke a function through the mesh (the act fn:NAME, as any service would),
or with --gateway through that gateway's management API, and print its
reply on stdout.

  stoa fn invoke hello --payload '{"name":"Ada"}'
  stoa fn invoke hello --qualifier prod
  stoa fn invoke hello --qualifier 3 --json
  stoa fn invoke hello --payload @event.json   # or - for stdin

--qualifier picks the version: latest (the default), a number or an alias.
--json prints the whole reply: {"version", "requestId", "payload", "cold"}.
When the function fails, its error body (what Lambda answers) goes to
stdout, the error to stderr, and the exit code is 1.`,
		Args: exactArgs(1, "one function NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := worker.Request{Fn: args[0], Qualifier: qualifier}
			if payload != "" {
				b, err := payloadArg(payload, cmd.InOrStdin())
				if err != nil {
					return err
				}
				req.Payload = b
			}
			if f.gateway != "" {
				return invokeThroughGateway(cmd, &f, req, timeout, asJSON)
			}
			url, auth, err := natsTarget(&f.nats, f.dataDir, os.Getenv)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			jctx, cancel := context.WithTimeout(ctx, connectTimeout)
			e := stoa.New(stoa.WithTimeout(timeout))
			defer e.Close(context.WithoutCancel(ctx))
			node, err := mesh.Join(jctx, e, mesh.WithURLs(url), mesh.WithAuth(auth), mesh.WithName("stoa-fn"),
				mesh.WithNATSOptions(nats.RetryOnFailedConnect(false), nats.MaxReconnects(0)))
			cancel()
			if err != nil {
				return fmt.Errorf("%w (is stoa up running?)", err)
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				node.Close(cctx)
			}()
			ictx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out, err := e.Act(ictx, req)
			if errors.Is(err, stoa.ErrMsgTooLarge) {
				return fmt.Errorf("the payload (%d bytes) does not fit the mesh: its NATS server at %s takes messages of %d bytes at most (max_payload; stoa up and stoa base allow 8MB)",
					len(req.Payload), url, node.Conn().MaxPayload())
			}
			if err != nil {
				return invokeFailure(cmd.OutOrStdout(), url, err)
			}
			if asJSON {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
				return err
			}
			var r worker.Reply
			if err := json.Unmarshal(out, &r); err != nil {
				return fmt.Errorf("a reply that is not a worker's: %s", out)
			}
			switch {
			case r.Payload != nil:
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", r.Payload)
			case r.PayloadBase64 != nil:
				_, err = cmd.OutOrStdout().Write(r.PayloadBase64)
			}
			return err
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&payload, "payload", "", "the event: JSON, @FILE or - for stdin (default {})")
	cmd.Flags().StringVar(&qualifier, "qualifier", "", "latest, a version number or an alias")
	cmd.Flags().DurationVar(&timeout, "timeout", worker.MaxTimeout, "how long to wait for the reply")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole reply, not only the function's payload")
	return cmd
}

// invokeThroughGateway invokes through the management API of --gateway.
// It answers as an invocation over NATS does; --json gives the version and
// the payload only (the API does not carry the request id).
func invokeThroughGateway(cmd *cobra.Command, f *fnFlags, req worker.Request, timeout time.Duration, asJSON bool) error {
	c, err := f.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	out, version, failed, err := c.invoke(ctx, req.Fn, req.Qualifier, req.Payload)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if failed {
		fmt.Fprintf(w, "%s\n", out)
		var e struct{ ErrorType, ErrorMessage string }
		json.Unmarshal(out, &e)
		return fmt.Errorf("fn_error: %s:%d: %s: %s", req.Fn, version, e.ErrorType, e.ErrorMessage)
	}
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			Version int             `json:"version"`
			Payload json.RawMessage `json:"payload"`
		}{version, out})
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// payloadArg reads --payload: JSON itself, @FILE, or - for stdin. It must
// be JSON.
func payloadArg(arg string, stdin io.Reader) (json.RawMessage, error) {
	b := []byte(arg)
	var err error
	switch {
	case arg == "-":
		b, err = io.ReadAll(stdin)
	case strings.HasPrefix(arg, "@"):
		b, err = os.ReadFile(arg[1:])
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("--payload: %w", err)}
	}
	if !json.Valid(b) {
		if len(b) > 80 {
			b = append(b[:80:80], "…"...)
		}
		return nil, usageError{fmt.Errorf("--payload is not JSON: %s", b)}
	}
	return b, nil
}

// invokeFailure prints the error body of a failed invocation on stdout
// and returns the error for stderr.
func invokeFailure(stdout io.Writer, url string, err error) error {
	var se *stoa.Error
	if !errors.As(err, &se) {
		return err
	}
	if se.Code == stoa.CodeNotFound {
		return fmt.Errorf("no function worker is on the mesh at %s: start stoa up, or stoa worker", url)
	}
	if body, ok := se.Details["payload"]; ok {
		if b, err := json.Marshal(body); err == nil {
			fmt.Fprintf(stdout, "%s\n", b)
		}
	}
	return fmt.Errorf("%s: %s", se.Code, se.Message)
}
