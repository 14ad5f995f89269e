package lambda

import (
	"bufio"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Runtime API server: HTTP/1.1 on loopback, one goroutine per
// connection, requests parsed by net/http's ReadRequest (chunked bodies
// and trailers included) and answers written straight to the socket. An
// invocation is written onto the connection of the "next" waiting for it
// by the goroutine that calls Invoke, so a warm invocation costs no
// goroutine hand-off on the way in. See RATIONALE.md ("Runtime API server").

const (
	// maxHeaderBytes bounds a request's line and headers.
	maxHeaderBytes = 64 << 10
	// maxDrain is how much of an unread body is skipped to keep a
	// connection; past it the connection is closed.
	maxDrain = 1 << 20
)

// apiConn is one connection from the runtime.
type apiConn struct {
	c  net.Conn
	lr limitedReader

	wmu sync.Mutex // serialises writes: the connection's goroutine and a delivering Invoke
	buf []byte     // response head scratch, under wmu
}

// limitedReader reads from r until n runs out, then reports EOF; it bounds
// request headers (n is lifted once they are read).
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// serve accepts the runtime's connections until the listener closes.
func (e *Env) serve(ln net.Listener) {
	defer close(e.served)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		e.mu.Lock()
		if e.conns == nil { // closing
			e.mu.Unlock()
			c.Close()
			continue
		}
		ac := &apiConn{c: c}
		e.conns[ac] = true
		e.connWG.Add(1)
		e.mu.Unlock()
		go e.serveConn(ac)
	}
}

// serveConn reads requests from one connection and answers them.
func (e *Env) serveConn(ac *apiConn) {
	defer func() {
		e.unpark(ac)
		ac.c.Close()
		e.mu.Lock()
		delete(e.conns, ac)
		e.mu.Unlock()
		e.connWG.Done()
	}()
	ac.lr.r = ac.c
	br := bufio.NewReaderSize(&ac.lr, 4<<10)
	for {
		ac.lr.n = maxHeaderBytes
		r, err := http.ReadRequest(br)
		if err != nil {
			return // hung up, or not HTTP
		}
		if e.unpark(ac) {
			// A request while this connection's "next" still waits: the
			// runtime pipelines, which no client does. Give up on it.
			return
		}
		ac.lr.n = math.MaxInt64
		if r.ProtoMajor != 1 {
			return
		}
		if strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
			if ac.write([]byte("HTTP/1.1 100 Continue\r\n\r\n")) != nil {
				return
			}
		}
		if !e.serveRequest(ac, r) {
			return
		}
		if r.Close && !e.isParked(ac) { // a parked next still gets its answer; the client closes after it
			return
		}
		// Skip what the handler left of the body, to read the next request.
		if n, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain+1)); err != nil || n > maxDrain {
			return
		}
	}
}

// reply writes a JSON answer; extra are header name, value pairs.
func (ac *apiConn) reply(status int, body []byte, extra ...string) error {
	ac.wmu.Lock()
	defer ac.wmu.Unlock()
	b := ac.buf[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: application/json\r\n"...)
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			continue
		}
		b = append(b, extra[i]...)
		b = append(b, ": "...)
		b = appendHeaderValue(b, extra[i+1])
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	var err error
	if len(body) <= 16<<10 { // one write, one segment
		b = append(b, body...)
		_, err = ac.c.Write(b)
	} else { // writev: no copy of a large event
		bufs := net.Buffers{b, body}
		_, err = bufs.WriteTo(ac.c)
	}
	if cap(b) <= 64<<10 {
		ac.buf = b[:0]
	}
	return err
}

// write writes raw bytes (a 100 Continue) under the write lock.
func (ac *apiConn) write(b []byte) error {
	ac.wmu.Lock()
	defer ac.wmu.Unlock()
	_, err := ac.c.Write(b)
	return err
}

// appendHeaderValue appends v with line breaks and other control bytes
// made spaces: a header value from the invoker must not start a header.
func appendHeaderValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// sendInvocation writes inv as the answer to a "next". A runtime that does
// not read its socket holds the write up to the invocation's deadline.
func (ac *apiConn) sendInvocation(inv *invocation) error {
	ac.c.SetWriteDeadline(inv.deadline)
	err := ac.reply(http.StatusOK, inv.payload,
		hdrRequestID, inv.id,
		hdrDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10),
		hdrFunctionARN, inv.arn,
		hdrTraceID, inv.traceID,
		hdrClientContext, inv.clientContext,
		hdrCognito, inv.cognito,
		hdrTenantID, inv.tenantID)
	ac.c.SetWriteDeadline(time.Time{})
	return err
}

// isParked reports whether ac waits in "next".
func (e *Env) isParked(ac *apiConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Contains(e.parkedConns, ac)
}

// closeConns ends every connection of the environment and waits for
// their goroutines; the listener must be closed first.
func (e *Env) closeConns() {
	e.mu.Lock()
	conns := e.conns
	e.conns = nil
	e.mu.Unlock()
	for ac := range conns {
		ac.c.Close()
	}
	e.connWG.Wait()
}
