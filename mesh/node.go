package mesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stoaproject/stoa"
)

// Node is an engine's membership of the mesh: it serves the engine's pins
// to other nodes and adds, to the engine, a forwarding handler for every pin
// other nodes serve. Its methods are safe for concurrent use.
//
// A Node is made by Join and ends with Close, which leaves the mesh and
// closes the connection the node made (not one given with WithConn). The
// engine is the caller's: Close removes the forwarding handlers it added
// but does not close the engine.
type Node struct {
	e       *stoa.Engine
	cfg     *config
	nc      *nats.Conn
	ownConn bool
	svc     micro.Service
	id      string
	met     *metrics
	serving atomic.Int64    // acts being served
	own     map[string]bool // canonical forms of the pins this node serves

	// serving: mu guards draining and workers; wg counts the workers.
	mu       sync.Mutex
	draining bool
	workers  int
	wg       sync.WaitGroup
	work     chan job      // idle workers wait here
	stopWork chan struct{} // closed when the node drains: idle workers end

	// membership, owned by the run goroutine
	events   chan *nats.Msg // every membership message, in the order NATS delivered them
	subs     []*nats.Subscription
	suspects chan string   // pins that got no responders: check their providers
	resync   chan struct{} // the connection came back: announce and learn again
	heard    chan struct{} // a node answered discovery
	started  bool          // run was started
	quit     chan struct{} // closed to stop run
	ran      chan struct{} // closed when run has returned
	members  map[string]*member
	pins     map[string]*remotePin
	syncSubj string
	pingSubj string // prefix of the replies to liveness checks

	view      sync.RWMutex
	providers map[string]int // canonical pin → providers known (own pins count one)
	peers     []Peer
	changed   chan struct{} // closed and replaced on every change of the view

	closeOnce sync.Once
	closeErr  error
}

// member is another node, as this one knows it.
type member struct {
	id, name, engine string
	pins             map[string]pinInfo
	checking         time.Time // when the liveness check under way was sent; zero if none
}

type pinInfo struct {
	subject    string
	idempotent bool
}

// remotePin is a pin other nodes serve.
type remotePin struct {
	canon     string
	subject   string
	providers map[string]bool // node id → says the pin is idempotent
	remove    func() bool     // removes the forwarder the node added for it to the engine; nil if none
	idem      atomic.Bool     // every provider says the pin is idempotent
	met       *pinMetrics
}

// Peer is a node of the mesh, as Node.Peers and List report it.
type Peer struct {
	ID     string `json:"id"`     // the node's id in the NATS service API
	Name   string `json:"name"`   // the node's name (WithName)
	Engine string `json:"engine"` // the id of the node's engine
	Pins   []Pin  `json:"pins"`
}

// Pin is a pattern a node serves.
type Pin struct {
	Pattern    string `json:"pattern"` // canonical form
	Subject    string `json:"subject"` // where its acts travel
	Idempotent bool   `json:"idempotent,omitempty"`
	// Acts and Errors count the acts the node has served on the pin, when
	// List reports it (from the NATS service API's stats).
	Acts   int `json:"acts"`
	Errors int `json:"errors"`
}

// Join connects e to the mesh and returns once the node is known and has
// learned the pins of the nodes already there (see WithDiscoveryWait);
// pins of nodes that join later are learned as they come. An act on e that
// matches a remote pin goes to a live provider of that pin, chosen by
// NATS. Join fails when ctx ends before a server accepts the connection,
// or at once when a server refuses the node's credentials.
func Join(ctx context.Context, e *stoa.Engine, opts ...Option) (*Node, error) {
	if e == nil {
		return nil, errors.New("mesh: Join with a nil engine")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	n := &Node{
		e:         e,
		cfg:       cfg,
		own:       map[string]bool{},
		events:    make(chan *nats.Msg, 4096),
		suspects:  make(chan string, 64),
		resync:    make(chan struct{}, 1),
		heard:     make(chan struct{}, 1),
		quit:      make(chan struct{}),
		ran:       make(chan struct{}),
		members:   map[string]*member{},
		pins:      map[string]*remotePin{},
		providers: map[string]int{},
		changed:   make(chan struct{}),
		work:      make(chan job),
		stopWork:  make(chan struct{}),
	}
	type served struct {
		canon string
		idem  bool
	}
	var pins []served
	for _, p := range cfg.pins {
		canon, err := canonical(p.pattern)
		if err != nil {
			return nil, err
		}
		if !n.own[canon] {
			n.own[canon] = true
			pins = append(pins, served{canon, p.idempotent})
		} else if p.idempotent {
			for i := range pins {
				if pins[i].canon == canon {
					pins[i].idem = true
				}
			}
		}
	}
	n.met = newMetrics(cfg.name, &n.serving)
	if cfg.reg != nil {
		if err := n.met.register(cfg.reg); err != nil {
			return nil, fmt.Errorf("mesh: register metrics: %w", err)
		}
	}
	fail := func(err error) (*Node, error) {
		n.shutdown()
		return nil, err
	}
	if err := n.connect(ctx); err != nil {
		return fail(err)
	}

	// Membership messages all go to one channel, so that they are applied
	// in the order NATS delivered them (RATIONALE.md, "Pin discovery").
	inbox := nats.NewInbox()
	n.syncSubj, n.pingSubj = inbox+".sync", inbox+".ping"
	n.started = true
	go n.run()
	for _, subj := range []string{announceSubj, leaveSubj, n.syncSubj, n.pingSubj + ".*"} {
		sub, err := n.nc.ChanSubscribe(subj, n.events)
		if err != nil {
			return fail(fmt.Errorf("mesh: subscribe %s: %w", subj, err))
		}
		n.subs = append(n.subs, sub)
	}

	svc, err := micro.AddService(n.nc, micro.Config{
		Name:        cfg.name,
		Version:     version(),
		Description: "Stoa node",
		Metadata:    map[string]string{metaStoa: protocol, metaEngine: e.ID()},
		QueueGroup:  queueGroup,
	})
	if err != nil {
		return fail(fmt.Errorf("mesh: register the node with the NATS service API: %w", err))
	}
	n.svc = svc
	n.id = svc.Info().ID
	for _, p := range pins {
		md := map[string]string{metaPattern: p.canon}
		if p.idem {
			md[metaIdempotent] = "true"
		}
		err := svc.AddEndpoint(endpointName(p.canon), n.handler(p.canon), micro.WithEndpointSubject(subjectFor(p.canon)), micro.WithEndpointMetadata(md))
		if err != nil {
			return fail(fmt.Errorf("mesh: serve pin %s: %w", p.canon, err))
		}
	}
	n.publishView()
	if err := n.discover(ctx); err != nil {
		return fail(err)
	}
	return n, nil
}

// connect makes the node's connection and waits until it is up.
func (n *Node) connect(ctx context.Context) error {
	resync := func() {
		select {
		case n.resync <- struct{}{}:
		default:
		}
	}
	if nc := n.cfg.conn; nc != nil {
		n.nc = nc
		prev := nc.ReconnectHandler()
		nc.SetReconnectHandler(func(c *nats.Conn) {
			if prev != nil {
				prev(c)
			}
			resync()
		})
		return nil
	}
	nc, err := dial(ctx, n.cfg, resync)
	if err != nil {
		return err
	}
	n.nc, n.ownConn = nc, true
	return nil
}

// dial connects with cfg's settings and waits until the connection is up;
// reconnected is called each time it comes back after a loss.
func dial(ctx context.Context, cfg *config, reconnected func()) (*nats.Conn, error) {
	opts, err := Options(cfg.name, cfg.auth)
	if err != nil {
		return nil, err
	}
	up := make(chan struct{}, 1)
	refused := make(chan error, 1)
	signal := func() {
		select {
		case up <- struct{}{}:
		default:
		}
	}
	refuse := func(err error) {
		if isAuthError(err) {
			select {
			case refused <- err:
			default:
			}
		}
	}
	opts = append(opts,
		nats.ConnectHandler(func(*nats.Conn) { signal() }),
		nats.ReconnectHandler(func(*nats.Conn) {
			signal()
			if reconnected != nil {
				reconnected()
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				cfg.log.Warn("mesh: disconnected", "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { refuse(err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			refuse(err)
			cfg.log.Warn("mesh: nats error", "err", err)
		}),
	)
	opts = append(opts, cfg.natsOpts...)
	servers := strings.Join(cfg.urls, ",")
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		if isAuthError(err) {
			return nil, fmt.Errorf("mesh: the server refused the node: %w", err)
		}
		return nil, fmt.Errorf("mesh: connect to %s: %w", servers, err)
	}
	for !nc.IsConnected() {
		select {
		case <-up:
		case err := <-refused:
			nc.Close()
			return nil, fmt.Errorf("mesh: the server refused the node: %w", err)
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("mesh: no NATS server at %s answered: %w", servers, ctx.Err())
		}
	}
	return nc, nil
}

// isAuthError reports whether err is the server refusing the node: bad or
// missing credentials, or a TLS handshake that failed on a certificate.
// Retrying would not help, so Join reports it at once.
func isAuthError(err error) bool {
	if err == nil {
		return false
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) ||
		errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "authorization violation") || strings.Contains(s, "tls: ") || strings.Contains(s, "x509: ") ||
		strings.Contains(s, "secure connection")
}

// discover asks every service for its info, announces this node, and
// waits until no node has answered for the discovery wait.
func (n *Node) discover(ctx context.Context) error {
	if err := n.nc.PublishRequest(infoSubject, n.syncSubj, nil); err != nil {
		return fmt.Errorf("mesh: discovery: %w", err)
	}
	if err := n.announce(); err != nil {
		return err
	}
	if err := n.flush(ctx); err != nil {
		return fmt.Errorf("mesh: discovery: %w", err)
	}
	t := time.NewTimer(n.cfg.quiet)
	defer t.Stop()
	for {
		select {
		case <-n.heard:
			t.Reset(n.cfg.quiet)
		case <-t.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("mesh: discovery: %w", ctx.Err())
		}
	}
}

// flush waits until the server has processed what the node sent, or ctx
// ends (within 10 s if ctx has no deadline), or the connection is lost:
// no server answers a flush then (nats.go keeps one sent while it
// reconnects until the reconnect, which may never come).
func (n *Node) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	lost := n.nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer n.nc.RemoveStatusListener(lost)
	if !n.nc.IsConnected() { // lost before the listener was there
		return nats.ErrDisconnected
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lost:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := n.nc.FlushWithContext(ctx)
	if err != nil && !n.nc.IsConnected() {
		return fmt.Errorf("%w: %w", nats.ErrDisconnected, err)
	}
	return err
}

// infoSubject asks every service of the NATS service API for its info.
var infoSubject, _ = micro.ControlSubject(micro.InfoVerb, "", "")

func (n *Node) announce() error {
	b, err := json.Marshal(n.svc.Info())
	if err != nil {
		return err
	}
	if err := n.nc.Publish(announceSubj, b); err != nil {
		return fmt.Errorf("mesh: announce: %w", err)
	}
	return nil
}

// ID returns the node's id, as the NATS service API shows it.
func (n *Node) ID() string { return n.id }

// Conn returns the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// Providers reports how many nodes serve pattern, as far as this node
// knows: the other nodes that announced it, plus one if this node serves
// it. pattern is compared in its canonical form.
func (n *Node) Providers(pattern string) int {
	canon, err := canonical(pattern)
	if err != nil {
		return 0
	}
	n.view.RLock()
	defer n.view.RUnlock()
	return n.providers[canon]
}

// Peers returns the other nodes this node knows, sorted by name and id.
func (n *Node) Peers() []Peer {
	n.view.RLock()
	defer n.view.RUnlock()
	return slices.Clone(n.peers)
}

// WaitFor blocks until at least min nodes serve pattern (see Providers),
// or ctx ends. A caller that starts beside its services uses it to wait
// for them.
func (n *Node) WaitFor(ctx context.Context, pattern string, min int) error {
	canon, err := canonical(pattern)
	if err != nil {
		return err
	}
	for {
		n.view.RLock()
		got, ch := n.providers[canon], n.changed
		n.view.RUnlock()
		if got >= min {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("mesh: %d of %d providers of %s: %w", got, min, canon, ctx.Err())
		}
	}
}

// Close leaves the mesh cleanly: the node stops taking acts (NATS sends new
// ones to the other providers), tells the other nodes it is going, finishes
// the acts it has in flight, removes its forwarders from the engine and
// closes its connection. If ctx ends first, the rest is cut short: acts
// still in flight then get no reply, and their callers time out, or retry
// if their pins are idempotent. Calling Close again returns the first
// result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.drain(ctx) })
	return n.closeErr
}

func (n *Node) drain(ctx context.Context) error {
	n.stopServing()
	var errs []error
	if n.svc != nil {
		if err := n.svc.Stop(); err != nil { // unsubscribes the pins' endpoints
			errs = append(errs, fmt.Errorf("mesh: stop serving: %w", err))
		}
		if n.nc.IsConnected() { // no server to tell, or to wait for, otherwise
			if b, err := json.Marshal(micro.ServiceIdentity{Name: n.cfg.name, ID: n.id}); err == nil {
				n.nc.Publish(leaveSubj, b)
			}
			n.flush(ctx)
		}
	}
	served := make(chan struct{})
	go func() { n.wg.Wait(); close(served) }()
	select {
	case <-served:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("mesh: close: acts still in flight: %w", ctx.Err()))
	}
	if err := n.shutdownCtx(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopServing starts no more workers, and ends idle ones.
func (n *Node) stopServing() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.draining {
		n.draining = true
		close(n.stopWork)
	}
}

// shutdown ends what Join started, without waiting.
func (n *Node) shutdown() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.shutdownCtx(ctx)
}

// shutdownCtx stops the membership loop, removes the forwarders, and
// drains and closes the node's own connection within ctx.
func (n *Node) shutdownCtx(ctx context.Context) error {
	n.stopServing()
	if n.svc != nil {
		n.svc.Stop()
	}
	for _, s := range n.subs {
		s.Unsubscribe()
	}
	if n.started {
		close(n.quit)
		<-n.ran
	}
	for _, rp := range n.pins {
		if rp.remove != nil {
			rp.remove()
		}
	}
	if n.cfg.reg != nil {
		n.met.unregister(n.cfg.reg)
	}
	if !n.ownConn || n.nc == nil {
		return nil
	}
	closed := make(chan struct{})
	n.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if ctx.Err() != nil || !n.nc.IsConnected() || n.nc.Drain() != nil {
		n.nc.Close()
		return nil
	}
	select {
	case <-closed:
	case <-ctx.Done():
		n.nc.Close()
	}
	return nil
}

// version is the version of the module the node runs in, for the NATS
// service API, which wants SemVer.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := strings.TrimPrefix(bi.Main.Version, "v")
		if v != "" && v[0] >= '0' && v[0] <= '9' && strings.Count(strings.SplitN(v, "-", 2)[0], ".") == 2 {
			return v
		}
	}
	return "0.0.0"
}
