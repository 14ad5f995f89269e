package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stoaproject/stoa"
)

// CodeUnavailable is the code of an act that could not be sent because the
// node's connection is closed.
const CodeUnavailable = "mesh_unavailable"

type hopsKey struct{}

// forward is the handler the node adds to its engine for a remote pin: it
// sends the act on the pin's subject, where NATS gives it to one of the
// pin's providers (a queue group), and returns that provider's reply or
// error as its own.
func (n *Node) forward(rp *remotePin) stoa.Handler {
	return func(ctx context.Context, msg stoa.Msg) (any, error) {
		hops, _ := ctx.Value(hopsKey{}).(int)
		if hops >= maxHops {
			return nil, &stoa.Error{Code: stoa.CodeExecute, Pattern: rp.canon,
				Message: fmt.Sprintf("act crossed %d nodes without finding its handler; do the nodes agree on their pins?", hops)}
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(stoa.DefaultTimeout)
		}
		meta := stoa.ContextMeta(ctx)
		buf := actBufs.Get().(*[]byte)
		data, err := encodeAct((*buf)[:0], meta, deadline, hops, msg)
		if err != nil {
			actBufs.Put(buf)
			return nil, &stoa.Error{Code: stoa.CodeInvalidMsg, Pattern: rp.canon, Message: "cannot encode message: " + err.Error(), Err: err}
		}
		hdr := traceHeader(meta)
		start := time.Now()
		var reply *nats.Msg
		idem := rp.idem.Load()
		switch {
		case idem:
			reply, err = n.requestRetry(rp, data, hdr, deadline)
		case hdr == nil:
			reply, err = n.nc.Request(rp.subject, data, time.Until(deadline))
		default:
			reply, err = n.nc.RequestMsg(&nats.Msg{Subject: rp.subject, Data: data, Header: hdr}, time.Until(deadline))
		}
		if cap(data) <= maxPooledAct && !idem {
			*buf = data // the request's bytes were copied into the connection's buffer
			actBufs.Put(buf)
		}
		if err != nil {
			se := n.sendError(rp, err, msg, start)
			rp.met.fail(se.Code)
			return nil, se
		}
		rp.met.dur.Observe(time.Since(start).Seconds())
		if code := reply.Header.Get(hdrErrCode); code != "" {
			rp.met.fail(code)
			return nil, replyError(reply, code)
		}
		rp.met.ok.Inc()
		return json.RawMessage(reply.Data), nil
	}
}

// actBufs holds buffers for encoding acts. A buffer goes back once the
// request is sent (NATS copies it into the connection's buffer), except on
// an idempotent pin, whose retries may still be sending it.
var actBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// maxPooledAct is the largest buffer actBufs keeps.
const maxPooledAct = 64 << 10

// traceHeader carries the act's W3C trace context, when it has one, in
// the standard headers OpenTelemetry's NATS propagators read.
func traceHeader(m stoa.Meta) nats.Header {
	if m.TraceParent == "" {
		return nil
	}
	h := nats.Header{hdrTrace: {m.TraceParent}}
	if m.TraceState != "" {
		h[hdrTraceSt] = []string{m.TraceState}
	}
	return h
}

// sendError turns a failed request into the act's error.
func (n *Node) sendError(rp *remotePin, err error, msg stoa.Msg, start time.Time) *stoa.Error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		// NATS knows no subscriber of the pin's subject: every provider
		// is gone. Check which, so that the pin goes if none is left.
		n.suspect(rp.canon)
		return &stoa.Error{Code: stoa.CodeNotFound, Pattern: rp.canon,
			Message: fmt.Sprintf("no node serves %s any more; message was %s", rp.canon, brief(msg))}
	case errors.Is(err, nats.ErrTimeout):
		n.suspect(rp.canon)
		return &stoa.Error{Code: stoa.CodeTimeout, Pattern: rp.canon,
			Message: fmt.Sprintf("[TIMEOUT] no reply from the node serving %s within %d ms (it may have failed with the act); message was %s",
				rp.canon, time.Since(start).Milliseconds(), brief(msg))}
	case errors.Is(err, nats.ErrMaxPayload):
		return &stoa.Error{Code: stoa.CodeMsgTooLarge, Pattern: rp.canon, Message: "the message is over the mesh's max_payload: " + err.Error(), Err: err}
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return &stoa.Error{Code: CodeUnavailable, Pattern: rp.canon, Message: "the node's NATS connection is closed", Err: err}
	}
	return &stoa.Error{Code: stoa.CodeExecute, Pattern: rp.canon, Message: "mesh request failed: " + err.Error(), Err: err}
}

// replyError decodes a provider's error reply.
func replyError(reply *nats.Msg, code string) *stoa.Error {
	var se stoa.Error
	if err := json.Unmarshal(reply.Data, &se); err != nil || se.Code == "" {
		return &stoa.Error{Code: code, Message: reply.Header.Get(hdrErr)}
	}
	return &se
}

// suspect asks the membership loop to check the pin's providers.
func (n *Node) suspect(canon string) {
	select {
	case n.suspects <- canon:
	default: // checks are already queued
	}
}

// maxNoResponders is how many "no responders" answers in a row an act on
// an idempotent pin takes before it fails with act_not_found: about 600 ms
// in all, enough for providers that lost their server to reach another.
const maxNoResponders = 5

// retryStatus is one request's outcome in requestRetry.
type retryStatus struct {
	m   *nats.Msg
	err error
}

// requestRetry sends an act on an idempotent pin and sends it again, with
// the wait doubling, while no reply has come; the first reply to any try
// wins. "No responders" is retried briefly too (a provider may be moving to
// another server), then reported.
func (n *Node) requestRetry(rp *remotePin, data []byte, hdr nats.Header, deadline time.Time) (*nats.Msg, error) {
	const maxTries = 12
	results := make(chan retryStatus, maxTries)
	try := func() {
		m, err := n.nc.RequestMsg(&nats.Msg{Subject: rp.subject, Data: data, Header: hdr}, time.Until(deadline))
		results <- retryStatus{m, err}
	}
	go try()
	pending, tries := 1, 1
	wait := n.cfg.retryAfter
	timer := time.NewTimer(min(wait, time.Until(deadline)))
	defer timer.Stop()
	noResp := 0 // no-responders answers in a row
	var last error
	for {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				return r.m, nil
			}
			last = r.err
			if errors.Is(r.err, nats.ErrNoResponders) {
				noResp++
				if noResp > maxNoResponders && pending == 0 {
					return nil, r.err
				}
				if pending == 0 { // try again soon: 20, 40, 80, 160, 320 ms
					timer.Reset(min(time.Duration(10<<noResp)*time.Millisecond, time.Until(deadline)))
				}
				continue
			}
			if pending == 0 && !time.Now().Before(deadline) {
				return nil, r.err
			}
		case <-timer.C:
			if !time.Now().Before(deadline) || tries >= maxTries {
				if pending == 0 {
					if last == nil {
						last = nats.ErrTimeout
					}
					return nil, last
				}
				continue // wait for the tries under way; they end by the deadline
			}
			if pending > 0 {
				rp.met.retries.Inc()
				wait *= 2
			}
			go try()
			pending++
			tries++
			timer.Reset(min(wait, time.Until(deadline)))
		}
	}
}

// brief renders a message for an error text.
func brief(m stoa.Msg) string {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprint(map[string]any(m))
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
