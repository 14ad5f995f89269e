package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	n.serving.Add(1)
	defer n.serving.Add(-1)
	meta, ms, hops, body := decodeAct(r.Data())
	in := &inbound{hops: hops + 1}
	if ms > 0 {
		in.deadline = start.Add(time.Duration(ms) * time.Millisecond)
	}
	defer in.release()
	var ctx context.Context = in
	if h := r.Headers(); h != nil {
		meta.TraceParent, meta.TraceState = nats.Header(h).Get(hdrTrace), nats.Header(h).Get(hdrTraceSt)
	}
	if meta != (stoa.Meta{}) {
		ctx = stoa.WithMeta(ctx, meta)
	}

	out, err := n.e.Act(ctx, json.RawMessage(body))
	took := time.Since(start)
	pm.dur.Observe(took.Seconds())
	if reply := r.Reply(); reply != "" { // else sent without a reply subject: nobody waits
		err = n.reply(pm.pin, reply, out, err)
	}
	if err != nil {
		pm.fail(asError(err).Code)
	} else {
		pm.ok.Inc()
	}
	return took
}

// reply sends an act's outcome to its caller: the act's reply out, or
// err as an error reply. nats.go refuses a message larger than the
// server's max_payload before writing any of it; such a reply goes as a
// reply_too_large error instead, so that the caller need not wait for
// its deadline. reply returns the outcome the caller was sent.
func (n *Node) reply(pin, subject string, out []byte, err error) error {
	for {
		var perr error
		if err == nil {
			perr = n.nc.Publish(subject, out)
		} else {
			se := asError(err)
			out, _ = json.Marshal(se)
			perr = n.nc.PublishMsg(&nats.Msg{Subject: subject, Data: out, Header: nats.Header{hdrErr: {se.Message}, hdrErrCode: {se.Code}}})
		}
		if errors.Is(perr, nats.ErrMaxPayload) && !errors.Is(err, stoa.ErrReplyTooLarge) {
			err = n.tooLarge(pin, len(out))
			continue // once: that error is small
		}
		if perr != nil {
			n.cfg.log.Warn("mesh: cannot reply", "pin", pin, "err", perr)
		}
		return err
	}
}

// asError is err as the *stoa.Error the caller gets.
func asError(err error) *stoa.Error {
	var se *stoa.Error
	if !errors.As(err, &se) {
		se = &stoa.Error{Code: stoa.CodeExecute, Message: err.Error()}
	}
	return se
}

// tooLarge is the error sent in place of a reply of size bytes that the
// NATS server refuses, logged here too, where the handler is.
func (n *Node) tooLarge(pin string, size int) *stoa.Error {
	limit := n.nc.MaxPayload()
	n.cfg.log.Warn("mesh: reply larger than the NATS server's max_payload; the caller gets reply_too_large",
		"pin", pin, "bytes", size, "max_payload", limit)
	return &stoa.Error{Code: stoa.CodeReplyTooLarge, Pattern: pin,
		Message: fmt.Sprintf("the reply of %s is %d bytes, more than the %d bytes the NATS server carries in one message (max_payload)", pin, size, limit)}
}

// inbound is the context an act from another node is served with: it
// ends at the deadline the caller sent (none if it sent none) and carries
// the act's hop count. Its timer is made only if something waits on Done,
// which the engine's own act context rarely needs: context.WithTimeout on
// every act cost a timer and three allocations.
type inbound struct {
	deadline time.Time // zero: none
	hops     int

	mu     sync.Mutex
	dctx   context.Context
	cancel context.CancelFunc
}

var _ context.Context = (*inbound)(nil)

func (c *inbound) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *inbound) Done() <-chan struct{} {
	if c.deadline.IsZero() {
		return nil // never ends
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dctx == nil {
		c.dctx, c.cancel = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.dctx.Done()
}

func (c *inbound) Err() error {
	if c.deadline.IsZero() {
		return nil
	}
	c.mu.Lock()
	d := c.dctx
	c.mu.Unlock()
	if d != nil {
		return d.Err()
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded // Done, had it been asked for, would be closed
	}
	return nil
}

func (c *inbound) Value(key any) any {
	if _, ok := key.(hopsKey); ok {
		return c.hops
	}
	return nil
}

// release stops the timer, if Done made one.
func (c *inbound) release() {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
