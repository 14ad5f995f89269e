package mesh_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestReplyTooLarge: a reply (or an error) larger than the NATS server's
// max_payload cannot be sent; the caller gets reply_too_large at once
// instead of waiting for its deadline. A reply of exactly max_payload
// bytes still crosses.
func TestReplyTooLarge(t *testing.T) {
	const maxPayload = 64 << 10
	s := natstest.Server(t, func(o *server.Options) { o.MaxPayload = maxPayload })
	pe := newEngine(t)
	// {"data":"xxx…"}: 11 bytes around the string.
	reply := func(size int) []byte { return []byte(`{"data":"` + strings.Repeat("x", size-11) + `"}`) }
	pe.Add("role:big,size:limit", func(context.Context, stoa.Msg) (any, error) { return stoa.TrustedJSON(reply(maxPayload)), nil })
	pe.Add("role:big,size:over", func(context.Context, stoa.Msg) (any, error) { return stoa.TrustedJSON(reply(maxPayload + 1)), nil })
	pe.Add("role:big,size:error", func(context.Context, stoa.Msg) (any, error) {
		return nil, errors.New(strings.Repeat("e", maxPayload))
	})
	join(t, s, pe, mesh.WithPins("role:big"))
	ce := newEngine(t)
	cn := join(t, s, ce)
	waitFor(t, cn, "role:big", 1)

	const timeout = 5 * time.Second // newEngine's, too
	for _, size := range []string{"limit", "over", "error"} {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		start := time.Now()
		out, err := ce.Act(ctx, stoa.Msg{"role": "big", "size": size})
		took := time.Since(start)
		cancel()
		if size == "limit" {
			if err != nil || len(out) != maxPayload {
				t.Errorf("a reply of max_payload bytes: got %d bytes, %v; want %d bytes", len(out), err, maxPayload)
			}
			continue
		}
		if !errors.Is(err, stoa.ErrReplyTooLarge) {
			t.Errorf("size:%s: Act error = %v, want reply_too_large", size, err)
		}
		if took > timeout/2 {
			t.Errorf("size:%s: the error came after %v, want at once (the act's timeout is %v)", size, took, timeout)
		}
	}
	// A message over max_payload is never sent: msg_too_large, at once.
	_, err := ce.Act(t.Context(), stoa.Msg{"role": "big", "size": "limit", "pad": strings.Repeat("p", maxPayload)})
	if !errors.Is(err, stoa.ErrMsgTooLarge) {
		t.Errorf("a message over max_payload: Act error = %v, want msg_too_large", err)
	}
}
