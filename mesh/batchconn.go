package mesh

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// batchDialer dials TCP connections whose writes are gathered: what
// nats.go writes is copied to a buffer and written to the socket by one
// goroutine per connection, which first lets the goroutines that are ready
// to run add theirs. Acts woken by one read of replies then leave in one
// write instead of one each (RATIONALE.md, "Writes").
type batchDialer struct {
	d net.Dialer
}

func (bd *batchDialer) Dial(network, address string) (net.Conn, error) {
	c, err := bd.d.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return newBatchConn(c), nil
}

// Limits of a batchConn.
const (
	// batchMax is the most a connection holds unwritten: a Write waits
	// while the buffer is over it, as it would wait for the socket.
	batchMax = 1 << 20
	// batchQuiet: a Write that comes this long after the one before, with
	// nothing buffered, goes to the socket at once, if the writer's last
	// batch was a single write too. At one act in flight, writes are a
	// round trip apart (≥ 50 µs), so they skip the writer; under load they
	// come closer together and are gathered, and stay gathered until a
	// batch holds a single write again.
	batchQuiet = 50 * time.Microsecond
	// batchWriteTimeout bounds a write to the socket (to between half of
	// it and all of it), as nats.go's FlusherTimeout does; a write that
	// fails closes the connection, and nats.go reconnects.
	batchWriteTimeout = time.Minute
	// batchCloseWait is how long Close waits for what is buffered to be
	// written before it closes the socket anyway.
	batchCloseWait = time.Second
)

type batchConn struct {
	net.Conn

	mu      sync.Mutex
	roomy   sync.Cond // signalled when the writer takes the buffer, and when a write ends
	buf     []byte    // written by Write, taken by the writer
	writing bool      // a write to the socket is under way
	last    time.Time // of the last Write
	// gathered counts the Writes in buf; alone says whether the writer's
	// last batch held only one, when gathering did not pay.
	gathered int
	alone    bool
	until    time.Time // the socket's write deadline; see renewDeadline
	spare    []byte    // the buffer the writer wrote last, for reuse
	err      error     // the write error that ended the writer
	closing  bool

	wake chan struct{} // buf has data, or closing
	done chan struct{} // the writer has ended
}

func newBatchConn(c net.Conn) *batchConn {
	bc := &batchConn{Conn: c, alone: true, wake: make(chan struct{}, 1), done: make(chan struct{})}
	bc.roomy.L = &bc.mu
	go bc.writer()
	return bc
}

// Write copies p to the buffer for the writer; it waits only when the
// buffer is full. An error of an earlier write is returned here.
func (bc *batchConn) Write(p []byte) (int, error) {
	bc.mu.Lock()
	for len(bc.buf) >= batchMax && bc.err == nil && !bc.closing {
		bc.roomy.Wait()
	}
	switch {
	case bc.err != nil:
		bc.mu.Unlock()
		return 0, bc.err
	case bc.closing:
		bc.mu.Unlock()
		return 0, net.ErrClosed
	}
	now := time.Now()
	quiet := now.Sub(bc.last) >= batchQuiet
	bc.last = now
	if quiet && bc.alone && !bc.writing && len(bc.buf) == 0 {
		// Writes this far apart, when the writer's last batch was a single
		// write too, have nothing to gather: write now, on this goroutine,
		// and spare the act a hand-off to the writer.
		bc.writing = true
		bc.mu.Unlock()
		bc.renewDeadline(now, false)
		n, err := bc.Conn.Write(p)
		bc.mu.Lock()
		bc.writing = false
		if err != nil {
			bc.fail(err)
		}
		bc.roomy.Broadcast() // a writer may wait for this write to end
		bc.mu.Unlock()
		if err != nil {
			bc.Conn.Close()
		}
		return n, err
	}
	first := len(bc.buf) == 0
	bc.buf = append(bc.buf, p...)
	bc.gathered++
	bc.mu.Unlock()
	if first {
		bc.signal()
	}
	return len(p), nil
}

// fail records the write error that ends the connection; bc.mu is held.
func (bc *batchConn) fail(err error) {
	if bc.err == nil {
		bc.err = err
	}
	bc.roomy.Broadcast()
}

func (bc *batchConn) signal() {
	select {
	case bc.wake <- struct{}{}:
	default:
	}
}

// writer writes the buffer to the socket until the connection closes or a
// write fails.
func (bc *batchConn) writer() {
	defer close(bc.done)
	for range bc.wake {
		// Let the goroutines that are ready run first: those woken by the
		// same read of replies send their next acts, which then leave in
		// this write. (Once is enough: yielding more often cost more CPU
		// in waking other threads than it saved in writes.)
		runtime.Gosched()
		bc.mu.Lock()
		for bc.writing { // a Write is writing on its own goroutine
			bc.roomy.Wait()
		}
		out := bc.buf
		bc.buf, bc.spare = bc.spare[:0], nil
		if bc.gathered > 0 {
			bc.alone = bc.gathered == 1
		}
		bc.gathered = 0
		closing := bc.closing
		bc.writing = len(out) > 0
		bc.roomy.Broadcast()
		bc.mu.Unlock()
		if len(out) > 0 {
			bc.renewDeadline(time.Now(), closing)
			if _, err := bc.Conn.Write(out); err != nil {
				bc.mu.Lock()
				bc.writing = false
				bc.fail(err)
				bc.mu.Unlock()
				bc.Conn.Close() // the reader sees it, and nats.go reconnects
				return
			}
		}
		bc.mu.Lock()
		bc.writing = false
		if cap(out) <= batchMax {
			bc.spare = out
		}
		end := bc.closing && len(bc.buf) == 0
		bc.mu.Unlock()
		if end {
			return
		}
	}
}

// renewDeadline sets the socket's write deadline batchWriteTimeout ahead
// when less than half of that is left, rather than on every write (each
// renewal reschedules a runtime timer); when closing, batchCloseWait
// ahead. Only the goroutine that is writing calls it.
func (bc *batchConn) renewDeadline(now time.Time, closing bool) {
	switch {
	case closing:
		bc.until = time.Time{}
		bc.Conn.SetWriteDeadline(now.Add(batchCloseWait))
	case bc.until.Sub(now) < batchWriteTimeout/2:
		bc.until = now.Add(batchWriteTimeout)
		bc.Conn.SetWriteDeadline(bc.until)
	}
}

// Close writes what is buffered (waiting up to batchCloseWait), then closes
// the socket.
func (bc *batchConn) Close() error {
	bc.mu.Lock()
	already := bc.closing
	bc.closing = true
	bc.roomy.Broadcast()
	bc.mu.Unlock()
	if already {
		<-bc.done
		return net.ErrClosed
	}
	bc.signal()
	t := time.NewTimer(batchCloseWait)
	select {
	case <-bc.done:
	case <-t.C:
	}
	t.Stop()
	err := bc.Conn.Close()
	<-bc.done
	return err
}

// SetDeadline sets the read deadline; writes have their own (see writer).
func (bc *batchConn) SetDeadline(t time.Time) error { return bc.Conn.SetReadDeadline(t) }

// SetWriteDeadline does nothing: a Write only copies, and the writer sets
// the socket's write deadline itself.
func (bc *batchConn) SetWriteDeadline(time.Time) error { return nil }
