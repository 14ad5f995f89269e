package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stoaproject/stoa"
)

// handler serves the acts that arrive on one of the node's pins. NATS
// calls it on the endpoint's own goroutine, one message after another, so
// each act runs on a goroutine of its own (up to WithMaxInFlight), letting
// a slow act not hold up the next. While the node drains, acts run on the
// endpoint's goroutine, which the connection's drain waits for.
func (n *Node) handler(canon string) micro.Handler {
	pm := n.met.forServed(canon)
	return micro.HandlerFunc(func(r micro.Request) {
		n.mu.Lock()
		async := !n.draining && n.serving < n.cfg.maxInFlight
		if async {
			n.serving++
			n.wg.Add(1)
		}
		n.mu.Unlock()
		if !async {
			n.serve(pm, r)
			return
		}
		go func() {
			defer n.served()
			n.serve(pm, r)
		}()
	})
}

func (n *Node) served() {
	n.mu.Lock()
	n.serving--
	n.mu.Unlock()
	n.wg.Done()
}

// serve runs one act on the engine and replies.
func (n *Node) serve(pm *pinMetrics, r micro.Request) {
	start := time.Now()
	n.met.inFlight.Inc()
	defer n.met.inFlight.Dec()
	h := nats.Header(r.Headers())
	ctx := context.Background()
	if ms, err := strconv.ParseInt(h.Get(hdrTimeout), 10, 64); err == nil && ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	if m := metaFrom(h); m != (stoa.Meta{}) {
		ctx = stoa.WithMeta(ctx, m)
	}
	hops, _ := strconv.Atoi(h.Get(hdrHops))
	ctx = context.WithValue(ctx, hopsKey{}, hops+1)

	out, err := n.e.Act(ctx, json.RawMessage(r.Data()))
	reply := &nats.Msg{Subject: r.Reply(), Data: out}
	if err != nil {
		var se *stoa.Error
		if !errors.As(err, &se) {
			se = &stoa.Error{Code: stoa.CodeExecute, Message: err.Error()}
		}
		reply.Data, _ = json.Marshal(se)
		reply.Header = nats.Header{hdrErr: {se.Message}, hdrErrCode: {se.Code}}
		pm.fail(se.Code)
	} else {
		pm.ok.Inc()
	}
	pm.dur.Observe(time.Since(start).Seconds())
	if reply.Subject == "" {
		return // sent without a reply subject: nobody waits
	}
	if err := n.nc.PublishMsg(reply); err != nil {
		n.cfg.log.Warn("mesh: cannot reply", "pin", pm.pin, "err", err)
	}
}

// metaFrom reads the act's metadata from its headers.
func metaFrom(h nats.Header) stoa.Meta {
	return stoa.Meta{
		ID:          h.Get(hdrActID),
		TxID:        h.Get(hdrTxID),
		ParentID:    h.Get(hdrParentID),
		Caller:      h.Get(hdrCaller),
		TraceParent: h.Get(hdrTrace),
		TraceState:  h.Get(hdrTraceSt),
	}
}
