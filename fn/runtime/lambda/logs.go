package lambda

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strconv"
	"time"
)

// maxLogLine bounds one delivered line; longer lines arrive in pieces.
const maxLogLine = 256 << 10

// logPipe carries the runtime's stdout and stderr to the sink. Our own lines
// (START, END, REPORT) go into the same pipe behind a per-environment secret
// prefix, so they are delivered in order with everything the function wrote
// before them: a pipe is FIFO, and a write of up to PIPE_BUF bytes is atomic.
type logPipe struct {
	r, w   *os.File
	prefix []byte
	sink   io.Writer
	memMB  func() int // completes REPORT lines
	done   chan struct{}
}

func newLogPipe(sink io.Writer, memMB func() int) (*logPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	rand.Read(nonce[:])
	p := &logPipe{r: r, w: w, sink: sink, memMB: memMB, done: make(chan struct{})}
	p.prefix = append([]byte("\x00stoa:"), hex.EncodeToString(nonce[:])...)
	p.prefix = append(p.prefix, ':')
	go p.run()
	return p, nil
}

// mark queues our lines (no newline inside) behind what the runtime wrote,
// in one write. A line starting "REPORT " gets the memory peak and "MB\t"
// appended when it is delivered.
func (p *logPipe) mark(lines ...string) {
	n := 0
	for _, l := range lines {
		n += len(p.prefix) + len(l) + 1
	}
	buf := make([]byte, 0, n)
	for _, l := range lines {
		buf = append(append(append(buf, p.prefix...), l...), '\n')
	}
	p.w.Write(buf)
}

func (p *logPipe) run() {
	defer close(p.done)
	br := bufio.NewReaderSize(p.r, 64<<10)
	var partial []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			partial = append(partial, chunk...)
			if len(partial) >= maxLogLine {
				p.emit(append(partial, '\n'))
				partial = partial[:0]
			}
			continue
		}
		if len(partial) > 0 {
			chunk = append(partial, chunk...)
			partial = partial[:0]
		}
		if len(chunk) > 0 {
			if err != nil && chunk[len(chunk)-1] != '\n' {
				chunk = append(chunk, '\n')
			}
			p.line(chunk)
		}
		if err != nil {
			return
		}
	}
}

// line delivers one line, splitting off a marker that follows a partial line.
func (p *logPipe) line(l []byte) {
	i := bytes.Index(l, p.prefix)
	if i < 0 {
		p.emit(l)
		return
	}
	if i > 0 {
		p.emit(append(l[:i:i], '\n'))
	}
	l = l[i+len(p.prefix):]
	if bytes.HasPrefix(l, []byte("REPORT ")) && p.memMB != nil {
		l = append(strconv.AppendInt(l[:len(l)-1:len(l)-1], int64(p.memMB()), 10), " MB\t\n"...)
	}
	p.emit(l)
}

func (p *logPipe) emit(l []byte) { p.sink.Write(l) }

// close ends delivery once every writer is gone, or after wait: a process
// that escaped the kill may still hold the pipe.
func (p *logPipe) close(wait time.Duration) {
	p.w.Close()
	select {
	case <-p.done:
	case <-time.After(wait):
	}
	p.r.Close()
	<-p.done
}
