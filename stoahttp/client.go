package stoahttp

import (
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoaproject/stoa"
)

// Client sends acts to a listener, a Stoa Server or a Seneca service: it
// is the handler of the pins it was attached to an engine with, as
// Seneca's client() is. Its methods are safe for concurrent use.
type Client struct {
	url    string
	engine *stoa.Engine
	pins   []any
	tr     *http.Transport
	track  []string // seneca-track: this engine
	closed atomic.Bool
	wg     sync.WaitGroup // acts being forwarded
	mu     sync.Mutex     // orders wg.Add against Close's wg.Wait
	conns  connSet
}

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
	clientMaxIdle     = 512 // per host: enough for every act in flight to find one
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
	c := &Client{url: u, engine: e, track: []string{`["` + e.ID() + `"]`}}
	for _, o := range opts {
		o(c)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	c.tr = &http.Transport{
		DialContext:         c.conns.dialer(dialer.DialContext),
		MaxIdleConnsPerHost: clientMaxIdle,
		IdleConnTimeout:     clientIdleTimeout,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	pins := c.pins
	if len(pins) == 0 {
		pins = []any{""}
	}
	err = e.Use(stoa.Plugin{
		Name: fmt.Sprintf("stoahttp.client#%d %s", clientSeq.Add(1), u),
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
		c.tr.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

func clientURL(s string) (string, error) {
	if s == "" {
		return DefaultURL, nil
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("stoahttp: client URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("stoahttp: client URL %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("stoahttp: client URL %q has no host", s)
	}
	if u.Path == "" {
		u.Path = DefaultPath
	}
	return u.String(), nil
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
	c.mu.Lock()
	c.closed.Store(true)
	c.mu.Unlock()
	c.conns.close()
	c.wg.Wait()
	c.tr.CloseIdleConnections()
	return nil
}

// begin registers an act being forwarded, unless the client is closed.
func (c *Client) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.wg.Add(1)
	return true
}

var (
	acceptJSON = []string{"application/json"}
	kindReq    = []string{"req"}
)

// forward is the handler of the client's pins: it sends the act and
// returns the far side's reply, or its error as the far side wrote it.
func (c *Client) forward(ctx context.Context, msg stoa.Msg) (any, error) {
	if !c.begin() {
		return nil, &stoa.Error{Code: stoa.CodeClosed, Message: "stoahttp client for " + c.url + " is closed"}
	}
	defer c.wg.Done()

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

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, &stoa.Error{Code: stoa.CodeExecute, Message: "client request error: " + err.Error(), Err: err}
	}
	m := stoa.ContextMeta(ctx)
	h := req.Header
	h["Accept"] = acceptJSON
	h["Content-Type"] = contentJSON
	h["seneca-id"] = []string{m.ID + "/" + m.TxID}
	h["seneca-kind"] = kindReq
	h["seneca-origin"] = []string{m.Caller}
	h["seneca-track"] = c.track
	h["seneca-time-client-sent"] = []string{strconv.FormatInt(time.Now().UnixMilli(), 10)}
	if m.TraceParent != "" {
		h["traceparent"] = []string{m.TraceParent}
		if m.TraceState != "" {
			h["tracestate"] = []string{m.TraceState}
		}
	}

	// The transport itself, not an http.Client: acts follow no redirects,
	// and the client's redirect bookkeeping copies every request's headers.
	resp, err := c.tr.RoundTrip(req)
	if err != nil {
		return nil, c.sendError(ctx, "client request error: ", err)
	}
	out, err := readReply(resp)
	if err != nil {
		return nil, c.sendError(ctx, "client response error: ", err)
	}
	if resp.StatusCode < 400 {
		return json.RawMessage(out), nil
	}
	return nil, replyError(resp, out)
}

// sendError says why an act could not be sent or its reply read: the act's
// deadline, its caller, Close, or the network (act_execute, as a Seneca
// client says "Client request error").
func (c *Client) sendError(ctx context.Context, what string, err error) *stoa.Error {
	switch {
	case ctx.Err() != nil:
		return c.ctxError(ctx, ctx.Err())
	case c.closed.Load():
		return &stoa.Error{Code: stoa.CodeClosed, Message: "stoahttp client for " + c.url + " was closed while the act was sent", Err: err}
	}
	return &stoa.Error{Code: stoa.CodeExecute, Message: what + err.Error(), Err: err}
}

func (c *Client) ctxError(ctx context.Context, err error) *stoa.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &stoa.Error{Code: stoa.CodeTimeout, Message: "[TIMEOUT] act sent to " + c.url + " timed out", Err: err}
	}
	return &stoa.Error{Code: stoa.CodeCanceled, Message: "act sent to " + c.url + " was canceled", Err: err}
}

// readReply reads the whole reply body and closes it, so that the
// connection goes back to the pool.
func readReply(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if n := resp.ContentLength; n >= 0 && n <= maxReplyBytes {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxReplyBytes {
		return nil, fmt.Errorf("reply is larger than %d bytes", maxReplyBytes)
	}
	return b, nil
}

// replyError turns an error reply into the far side's own error when the
// body is Seneca's error JSON, and into act_execute with the status, as a
// Seneca client says it, when it is not.
func replyError(resp *http.Response, body []byte) error {
	var se stoa.Error
	if err := json.Unmarshal(body, &se); err == nil && se.Code != "" {
		if resp.StatusCode != http.StatusInternalServerError {
			if se.Details == nil {
				se.Details = map[string]any{}
			}
			if _, ok := se.Details["statusCode"]; !ok {
				se.Details["statusCode"] = resp.StatusCode
			}
		}
		return &se
	}
	return &stoa.Error{
		Code:    stoa.CodeExecute,
		Message: "response error: " + resp.Status,
		Details: map[string]any{"statusCode": resp.StatusCode},
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
	b, err := json.Marshal(map[string]any(msg))
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

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

var errClientClosed = errors.New("stoahttp: client closed")

func (s *connSet) dialer(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
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
