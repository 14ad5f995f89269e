package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
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
		data, err := appendMsg(make([]byte, 0, 128), msg)
		if err != nil {
			return nil, &stoa.Error{Code: stoa.CodeInvalidMsg, Pattern: rp.canon, Message: "cannot encode message: " + err.Error(), Err: err}
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(stoa.DefaultTimeout)
		}
		hdr := actHeader(stoa.ContextMeta(ctx), deadline, hops)
		start := time.Now()
		var reply *nats.Msg
		if rp.idem.Load() {
			reply, err = n.requestRetry(rp, data, hdr, deadline)
		} else {
			reply, err = n.nc.RequestMsg(&nats.Msg{Subject: rp.subject, Data: data, Header: hdr}, time.Until(deadline))
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

// actHeader carries the act's metadata and deadline across the hop, in
// one header (RATIONALE.md, "Metadata on the wire"): Stoa-Act holds the
// act id, transaction id, parent id, caller, milliseconds left and hops,
// separated by spaces, "-" for an empty field. The W3C trace context goes
// in its own standard headers, when there is one.
func actHeader(m stoa.Meta, deadline time.Time, hops int) nats.Header {
	var b strings.Builder
	b.Grow(len(m.ID) + len(m.TxID) + len(m.ParentID) + len(m.Caller) + 16)
	for _, f := range []string{m.ID, m.TxID, m.ParentID, m.Caller} {
		b.WriteString(field(f))
		b.WriteByte(' ')
	}
	b.WriteString(strconv.FormatInt(max(time.Until(deadline).Milliseconds(), 1), 10))
	if hops > 0 {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(hops))
	}
	h := nats.Header{hdrAct: {b.String()}}
	if m.TraceParent != "" {
		h[hdrTrace] = []string{m.TraceParent}
		if m.TraceState != "" {
			h[hdrTraceSt] = []string{m.TraceState}
		}
	}
	return h
}

// field writes one field of Stoa-Act: "-" when empty, spaces and '%'
// escaped as in URLs.
func field(s string) string {
	switch {
	case s == "":
		return "-"
	case s == "-" || strings.ContainsAny(s, " %"):
		return strings.NewReplacer("%", "%25", " ", "%20", "-", "%2D").Replace(s)
	}
	return s
}

// parseAct reads Stoa-Act: the metadata, the milliseconds left (0 if not
// given) and the hops so far.
func parseAct(v string) (m stoa.Meta, ms int64, hops int) {
	var f [6]string
	for i := range f {
		var ok bool
		f[i], v, ok = strings.Cut(v, " ")
		if !ok {
			break
		}
	}
	unfield := func(s string) string {
		if s == "-" {
			return ""
		}
		if strings.IndexByte(s, '%') >= 0 {
			if u, err := url.PathUnescape(s); err == nil {
				return u
			}
		}
		return s
	}
	m = stoa.Meta{ID: unfield(f[0]), TxID: unfield(f[1]), ParentID: unfield(f[2]), Caller: unfield(f[3])}
	if f[4] != "" {
		ms, _ = strconv.ParseInt(f[4], 10, 64)
	}
	if f[5] != "" {
		hops, _ = strconv.Atoi(f[5])
	}
	return m, ms, hops
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
				if noResp > 3 && pending == 0 {
					return nil, r.err
				}
				if pending == 0 { // try again soon: 20, 40, 80 ms
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
