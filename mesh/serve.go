package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stoaproject/stoa"
)

// handler serves the acts that arrive on one of the node's pins. NATS
// calls it on the endpoint's own goroutine, one message after another.
//
// A pin whose acts have all been quick lately is served right there: no
// goroutine switch, and the replies to a burst of acts leave in one write
// (RATIONALE.md, "Serving"). Otherwise each act goes to a worker, so that a
// slow act does not hold up the next: workers are goroutines that stay a
// while after an act (a fresh goroutine would grow its stack again for each
// act's JSON), at most WithMaxInFlight of them, beyond which the endpoint's
// goroutine serves the act itself and NATS holds the rest. While the node
// drains, no worker starts: the endpoint's goroutine serves, and the
// connection's drain waits for it.
func (n *Node) handler(canon string) micro.Handler {
	sp := &servedPin{pm: n.met.forServed(canon)}
	return micro.HandlerFunc(func(r micro.Request) {
		if sp.quick() {
			sp.observe(n.serve(sp.pm, r))
			return
		}
		j := job{sp, r}
		select {
		case n.work <- j: // an idle worker takes it
			return
		default:
		}
		n.mu.Lock()
		spawn := !n.draining && n.workers < n.cfg.maxInFlight
		if spawn {
			n.workers++
			n.wg.Add(1)
		}
		n.mu.Unlock()
		if !spawn {
			sp.observe(n.serve(sp.pm, r))
			return
		}
		go n.worker(j)
	})
}

// servedPin is what the node learns about the speed of a pin it serves.
type servedPin struct {
	pm   *pinMetrics
	acts atomic.Int32 // acts served, up to quickAfter
	avg  atomic.Int64 // moving average of the acts' durations, ns
}

// A pin is served on the endpoint's goroutine once quickAfter acts have
// been served and while the moving average of their durations (each new
// act weighing 1/8) stays under slowAct; one act made slow by a busy
// machine moves the average little, a slow handler soon moves it past.
const (
	quickAfter = 64
	slowAct    = time.Millisecond
)

func (sp *servedPin) quick() bool {
	return sp.acts.Load() >= quickAfter && sp.avg.Load() < int64(slowAct)
}

func (sp *servedPin) observe(d time.Duration) {
	a := sp.avg.Load()
	sp.avg.Store(a + (int64(d)-a)/8) // racy between workers, and fine: an estimate
	if sp.acts.Load() < quickAfter {
		sp.acts.Add(1)
	}
}

// job is an act for a worker.
type job struct {
	sp *servedPin
	r  micro.Request
}

// workerIdle is how long a worker waits for another act before it ends.
const workerIdle = 2 * time.Second

func (n *Node) worker(j job) {
	defer func() {
		n.mu.Lock()
		n.workers--
		n.mu.Unlock()
		n.wg.Done()
	}()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		j.sp.observe(n.serve(j.sp.pm, j.r))
		idle.Reset(workerIdle)
		select {
		case j = <-n.work:
		case <-idle.C:
			return
		case <-n.stopWork:
			return
		}
	}
}

// serve runs one act on the engine, replies, and returns how long the act
// took.
func (n *Node) serve(pm *pinMetrics, r micro.Request) time.Duration {
	start := time.Now()
	n.met.inFlight.Inc()
	defer n.met.inFlight.Dec()
	ctx := context.Background()
	meta, ms, hops, body := decodeAct(r.Data())
	if ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	if h := r.Headers(); h != nil {
		meta.TraceParent, meta.TraceState = nats.Header(h).Get(hdrTrace), nats.Header(h).Get(hdrTraceSt)
	}
	if meta != (stoa.Meta{}) {
		ctx = stoa.WithMeta(ctx, meta)
	}
	ctx = context.WithValue(ctx, hopsKey{}, hops+1)

	out, err := n.e.Act(ctx, json.RawMessage(body))
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
	took := time.Since(start)
	pm.dur.Observe(took.Seconds())
	if reply.Subject == "" {
		return took // sent without a reply subject: nobody waits
	}
	if err := n.nc.PublishMsg(reply); err != nil {
		n.cfg.log.Warn("mesh: cannot reply", "pin", pm.pin, "err", err)
	}
	return took
}
