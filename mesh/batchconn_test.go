package mesh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// loopback returns a batchConn dialed to a listener on 127.0.0.1 and the
// accepted end.
func loopback(t *testing.T) (*batchConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	d := &batchDialer{}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	far, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); far.Close() })
	return c.(*batchConn), far
}

// TestBatchConnOrder: bytes from concurrent writers all arrive, each
// writer's in the order written, and more of them than the buffer holds
// (writers wait for room), whether they went through the writer or
// straight to the socket.
func TestBatchConnOrder(t *testing.T) {
	c, far := loopback(t)
	const writers, each = 8, 40000 // 8 × 40,000 × 12 bytes ≈ 3.8 MB, over batchMax
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(far)
		got <- b
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var rec [12]byte
			for i := range each {
				if w == 0 && i%50 == 0 {
					// As if the last write were long ago and alone: the next one
					// goes straight to the socket when nothing is buffered.
					c.mu.Lock()
					c.last, c.alone = time.Time{}, true
					c.mu.Unlock()
				}
				binary.BigEndian.PutUint32(rec[0:], uint32(w))
				binary.BigEndian.PutUint64(rec[4:], uint64(i))
				if _, err := c.Write(rec[:]); err != nil {
					t.Errorf("writer %d, record %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	b := <-got
	if len(b) != writers*each*12 {
		t.Fatalf("read %d bytes, want %d", len(b), writers*each*12)
	}
	next := make([]uint64, writers)
	for r := b; len(r) > 0; r = r[12:] {
		w, i := binary.BigEndian.Uint32(r), binary.BigEndian.Uint64(r[4:])
		if int(w) >= writers || i != next[w] {
			t.Fatalf("record of writer %d numbered %d, want %d", w, i, next[min(int(w), writers-1)])
		}
		next[w]++
	}
}

// TestBatchConnCloseFlushes: Close writes what is still buffered before it
// closes the socket; later writes fail.
func TestBatchConnCloseFlushes(t *testing.T) {
	c, far := loopback(t)
	msg := bytes.Repeat([]byte("PUB x 5\r\nhello\r\n"), 1000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(far)
	if err != nil || !bytes.Equal(b, msg) {
		t.Fatalf("read %d bytes (%v), want the %d written", len(b), err, len(msg))
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v, want net.ErrClosed", err)
	}
}

// TestBatchConnWriteError: once a write to the socket fails, the
// connection is closed (so the reader sees it) and writes return the
// error.
func TestBatchConnWriteError(t *testing.T) {
	c, far := loopback(t)
	far.(*net.TCPConn).SetLinger(0)
	far.Close() // the peer resets the connection
	// The reset shows on the writer's first or second write; until then
	// writes are buffered, and once the buffer is full they wait for the
	// writer, which fails.
	chunk := bytes.Repeat([]byte("x"), 1024)
	var err error
	for err == nil {
		_, err = c.Write(chunk)
	}
	if _, rerr := c.Read(make([]byte, 1)); rerr == nil {
		t.Error("read after a failed write succeeded")
	}
	if _, err2 := c.Write([]byte("x")); err2 == nil {
		t.Error("write after a failed write succeeded")
	}
}
