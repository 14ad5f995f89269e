package stoahttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/valyala/fasthttp"
)

// Client sends acts to a listener, a Stoa Server or a Seneca service: it
// is the handler of the pins it was attached to an engine with, as
// Seneca's client() is. Its methods are safe for concurrent use.
type Client struct {
	url    string
	host   string // the Host header
	uri    string // the request URI: path and query
	engine *stoa.Engine
	pins   []any
	hc     *fasthttp.HostClient
	track  string // seneca-track: this engine
	closed atomic.Bool
	state  atomic.Int64  // acts being forwarded, plus closedBit once Close began
	idle   chan struct{} // closed by the last act to finish after Close began
	once   sync.Once     // closes idle
	conns  connSet
}

const closedBit = 1 << 62

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithPins sets the patterns the client answers for on its engine, each a
// pattern as stoa.Engine.Add takes it. Without pins the client answers
// every act that no local pattern matches (a catch-all), as a Seneca
// client without a pin does.
func WithPins(pins ...any) ClientOption {
	return func(c *Client) { c.pins = append(c.pins, pins...) }
}

// Keep-alive: a pooled connection is dropped after clientIdleTimeout
// unused, below the 5 s after which Node (so a Seneca listener) closes an
// idle connection, so that the client never sends on a connection the
// far side is closing.
const (
	clientIdleTimeout = 4 * time.Second
	dialTimeout       = 10 * time.Second
	maxReplyBytes     = 64 << 20
	timeoutMargin     = 25 * time.Millisecond
)

var clientSeq atomic.Uint64

// NewClient attaches a client to e: each pin (WithPins), or the catch-all
// if there is none, is added to e with the client as its handler, which
// sends the act to url ("" means DefaultURL; a URL without a path gets
// DefaultPath; "host:port" means http://host:port/act).
//
// The client is one of e's plugins: e.Close waits for the acts in flight,
// then closes it. Close closes it sooner; acts on its pins then fail with
// code closed.
func NewClient(e *stoa.Engine, url string, opts ...ClientOption) (*Client, error) {
	if e == nil {
		return nil, errors.New("stoahttp: NewClient with a nil engine")
	}
	u, err := clientURL(url)
	if err != nil {
		return nil, err
	}
	c := &Client{url: u.String(), host: u.Host, uri: u.RequestURI(), engine: e, track: `["` + e.ID() + `"]`, idle: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	c.hc = &fasthttp.HostClient{
		Addr:                addr,
		IsTLS:               u.Scheme == "https",
		DialTimeout:         c.conns.dialer(dialer, dialTimeout),
		MaxConns:            math.MaxInt32, // as many as there are acts in flight
		MaxIdleConnDuration: clientIdleTimeout,
		MaxResponseBodySize: maxReplyBytes,
		ConnPoolStrategy:    fasthttp.LIFO,
	}
	pins := c.pins
	if len(pins) == 0 {
		pins = []any{""}
	}
	err = e.Use(stoa.Plugin{
		Name: fmt.Sprintf("stoahttp.client#%d %s", clientSeq.Add(1), c.url),
		Setup: func(a *stoa.Adder) error {
			for _, p := range pins {
				if err := a.Add(p, c.forward); err != nil {
					return fmt.Errorf("pin %v: %w", p, err)
				}
			}
			return nil
		},
		Close: func(context.Context) error { return c.Close() },
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func clientURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultURL
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("stoahttp: client URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("stoahttp: client URL %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("stoahttp: client URL %q has no host", s)
	}
	if u.Path == "" {
		u.Path = DefaultPath
	}
	return u, nil
}

// URL is where the client sends acts.
func (c *Client) URL() string { return c.url }

// Close stops the client at once: acts on its pins fail with code closed
// from now on, its connections are closed, which ends the acts being sent
// (with code closed too), and it returns once they have. It does not take
// the pins out of the engine. Calling it again does nothing. For a
// graceful stop, close the engine: its Close waits for the acts in flight
// and then closes the client.
func (c *Client) Close() error {
	c.closed.Store(true)
	if c.state.Or(closedBit)&^closedBit == 0 {
		c.once.Do(func() { close(c.idle) })
	}
	c.conns.close()
	<-c.idle
	c.hc.CloseIdleConnections()
	return nil
}

// begin registers an act being forwarded, unless the client is closed;
// done ends it. No lock: every act in flight takes these two.
func (c *Client) begin() bool {
	if c.state.Add(1)&closedBit != 0 {
		c.done()
		return false
	}
	return true
}

func (c *Client) done() {
	if c.state.Add(-1) == closedBit {
		c.once.Do(func() { close(c.idle) })
	}
}

// Request header names and values that never change. Names are written
// as given here, in lower case, as a Seneca client (Node) sends them.
var (
	methodPost     = []byte(http.MethodPost)
	hdrAcceptType  = []byte("Accept")
	hdrTraceParent = []byte("traceparent")
	hdrTraceState  = []byte("tracestate")
	valueReq       = []byte("req")
)

// forward is the handler of the client's pins: it sends the act and
// returns the far side's reply, or its error as the far side wrote it.
func (c *Client) forward(ctx context.Context, msg stoa.Msg) (any, error) {
	if !c.begin() {
		return nil, &stoa.Error{Code: stoa.CodeClosed, Message: "stoahttp client for " + c.url + " is closed"}
	}
	defer c.done()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(stoa.DefaultTimeout)
	}
	left := time.Until(deadline)
	if left <= 0 {
		return nil, c.ctxError(ctx, context.DeadlineExceeded)
	}
	// The far side gets a little less than what is left, so that its own
	// action_timeout, which names its pattern, arrives before ours.
	left -= min(left/20, timeoutMargin)
	body, err := encodeForward(msg, max(1, int64(math.Ceil(float64(left)/float64(time.Millisecond)))))
	if err != nil {
		return nil, &stoa.Error{Code: stoa.CodeInvalidMsg, Message: "cannot encode the message: " + err.Error(), Err: err}
	}

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	m := stoa.ContextMeta(ctx)
	h := &req.Header // fresh: headers are added, not looked up first
	h.DisableNormalizing()
	h.SetMethodBytes(methodPost)
	h.SetRequestURI(c.uri)
	h.SetHost(c.host)
	h.AddBytesKV(hdrAcceptType, jsonType)
	h.SetContentTypeBytes(jsonType)
	h.AddBytesK(hdrID, m.ID+"/"+m.TxID)
	h.AddBytesKV(hdrKind, valueReq)
	h.AddBytesK(hdrOrigin, m.Caller)
	h.AddBytesK(hdrTrack, c.track)
	var sent [20]byte
	h.AddBytesKV(hdrClientSent, strconv.AppendInt(sent[:0], time.Now().UnixMilli(), 10))
	if m.TraceParent != "" {
		h.AddBytesK(hdrTraceParent, m.TraceParent)
		if m.TraceState != "" {
			h.AddBytesK(hdrTraceState, m.TraceState)
		}
	}
	req.SetBodyRaw(body)

	if err := c.roundTrip(ctx, deadline, req, resp); err != nil {
		return nil, c.sendError(ctx, err)
	}
	out := bytes.Clone(resp.Body()) // resp goes back to its pool
	if out == nil {
		out = []byte{}
	}
	if code := resp.StatusCode(); code >= 400 {
		return nil, replyError(code, resp.Header.StatusMessage(), out)
	}
	return json.RawMessage(out), nil
}

// errConnClosed is how the far side closing a connection before it
// replied shows: as the end of the stream, which it is.
var errConnClosed = fmt.Errorf("the listener closed the connection before it replied: %w", io.EOF)

// roundTrip sends req on a pooled connection and reads the reply into
// resp, by the act's deadline. It never sends a request twice: an act may
// not be idempotent. A canceled act is noticed while it waits for the
// reply (awaitReply), and its connection is dropped.
func (c *Client) roundTrip(ctx context.Context, deadline time.Time, req *fasthttp.Request, resp *fasthttp.Response) error {
	cc, err := c.hc.AcquireConn(time.Until(deadline), false)
	if err != nil {
		return err
	}
	conn := cc.Conn()
	err = conn.SetWriteDeadline(deadline)
	if err == nil {
		bw := c.hc.AcquireWriter(conn)
		err = req.Write(bw)
		if err == nil {
			err = bw.Flush()
		}
		c.hc.ReleaseWriter(bw)
	}
	if err == nil {
		br := c.hc.AcquireReader(conn)
		err = awaitReply(ctx, conn, br, deadline)
		switch {
		case err == nil:
			err = resp.ReadLimitBody(br, maxReplyBytes)
		case errors.Is(err, io.EOF):
			err = errConnClosed
		}
		c.hc.ReleaseReader(br)
	}
	if err != nil || resp.ConnectionClose() {
		c.hc.CloseConn(cc)
	} else {
		c.hc.ReleaseConn(cc)
	}
	return err
}

// How often a round trip waiting for its reply checks whether its act was
// canceled: soon at first, then less and less often, up to pollMax apart.
// Checking costs a read deadline and a wake-up, where watching the act's
// context would cost a goroutine and a timer per act (RATIONALE.md).
const (
	pollFirst = 10 * time.Millisecond
	pollMax   = 200 * time.Millisecond
)

// awaitReply waits until the reply's first byte has arrived, the act's
// deadline has passed (a timeout error), or the act was canceled (ctx's
// error). It leaves the act's deadline on the connection for reading the
// rest.
func awaitReply(ctx context.Context, conn net.Conn, br *bufio.Reader, deadline time.Time) error {
	wait := pollFirst
	for {
		until := time.Now().Add(wait)
		last := !until.Before(deadline)
		if last {
			until = deadline
		}
		if err := conn.SetReadDeadline(until); err != nil {
			return err
		}
		_, err := br.Peek(1)
		switch {
		case err == nil:
			if last {
				return nil
			}
			return conn.SetReadDeadline(deadline)
		case last || !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		wait = min(2*wait, pollMax)
	}
}

// sendError says why an act could not be sent or its reply read: the act's
// deadline, its caller, Close, or the network (act_execute, as a Seneca
// client says "Client request error").
func (c *Client) sendError(ctx context.Context, err error) *stoa.Error {
	switch {
	case ctx.Err() != nil:
		return c.ctxError(ctx, ctx.Err())
	case c.closed.Load():
		return &stoa.Error{Code: stoa.CodeClosed, Message: "stoahttp client for " + c.url + " was closed while the act was sent", Err: err}
	}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		err = fmt.Errorf("reply is larger than %d bytes", maxReplyBytes)
	}
	return &stoa.Error{Code: stoa.CodeExecute, Message: "client request error: " + err.Error(), Err: err}
}

func (c *Client) ctxError(ctx context.Context, err error) *stoa.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &stoa.Error{Code: stoa.CodeTimeout, Message: "[TIMEOUT] act sent to " + c.url + " timed out", Err: err}
	}
	return &stoa.Error{Code: stoa.CodeCanceled, Message: "act sent to " + c.url + " was canceled", Err: err}
}

// replyError turns an error reply into the far side's own error when the
// body is Seneca's error JSON, and into act_execute with the status, as a
// Seneca client says it, when it is not.
func replyError(status int, reason []byte, body []byte) error {
	var se stoa.Error
	if err := json.Unmarshal(body, &se); err == nil && se.Code != "" {
		if status != http.StatusInternalServerError {
			if se.Details == nil {
				se.Details = map[string]any{}
			}
			if _, ok := se.Details["statusCode"]; !ok {
				se.Details["statusCode"] = status
			}
		}
		return &se
	}
	text := string(reason)
	if text == "" {
		text = http.StatusText(status)
	}
	return &stoa.Error{
		Code:    stoa.CodeExecute,
		Message: "response error: " + strconv.Itoa(status) + " " + text,
		Details: map[string]any{"statusCode": status},
	}
}

// Keys a client never sends: Seneca's internal ones, which a Seneca
// listener would act on (fatal$ makes it exit), and timeout$, which it
// sends afresh as what is left of the act's deadline.
var unsent = []string{"fatal$", "tx$", "meta$", "transport$", "id$", "timeout$"}

// encodeForward writes msg as the body of a forwarded act, with timeout$
// set to ms so that the far side, Stoa or Seneca, ends the act when the
// caller stops waiting.
func encodeForward(msg stoa.Msg, ms int64) ([]byte, error) {
	for _, k := range unsent {
		if _, ok := msg[k]; ok {
			clean := make(map[string]any, len(msg))
			for k, v := range msg {
				clean[k] = v
			}
			for _, k := range unsent {
				delete(clean, k)
			}
			msg = clean
			break
		}
	}
	b, err := msg.MarshalJSON() // the engine's own encoding of a Msg
	if err != nil {
		return nil, err
	}
	// b is an object: put timeout$ last, before its closing brace.
	b = b[:len(b)-1]
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, `"timeout$":`...)
	b = strconv.AppendInt(b, ms, 10)
	return append(b, '}'), nil
}

// connSet tracks a client's connections, so that Close can close those in
// use too, and refuses new ones once closed.
type connSet struct {
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

var errClientClosed = errors.New("stoahttp: client closed")

// dialer dials with d, bounded by timeout and by the act's own, and
// tracks the connection.
func (s *connSet) dialer(d *net.Dialer, timeout time.Duration) fasthttp.DialFuncWithTimeout {
	return func(addr string, t time.Duration) (net.Conn, error) {
		if t <= 0 || t > timeout {
			t = timeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), t)
		defer cancel()
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: conn, set: s}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			conn.Close()
			return nil, errClientClosed
		}
		if s.conns == nil {
			s.conns = map[*trackedConn]struct{}{}
		}
		s.conns[tc] = struct{}{}
		return tc, nil
	}
}

func (s *connSet) close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*trackedConn, 0, len(s.conns))
	for tc := range s.conns {
		conns = append(conns, tc)
	}
	s.mu.Unlock()
	for _, tc := range conns {
		tc.Close()
	}
}

type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (tc *trackedConn) Close() error {
	tc.once.Do(func() {
		tc.set.mu.Lock()
		delete(tc.set.conns, tc)
		tc.set.mu.Unlock()
	})
	return tc.Conn.Close()
}
