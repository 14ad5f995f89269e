package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Function logs are kept in one JetStream stream, one message per
// invocation (its lines from START to REPORT), on the subject
// stoa.fn.logs.NAME.VERSION.
const (
	// LogStream is the name of the stream that keeps function logs.
	LogStream = "STOA_FN_LOGS"
	// DefaultLogMaxAge and DefaultLogMaxBytes are the stream's retention
	// limits when the Worker sets none: the oldest logs go first.
	DefaultLogMaxAge   = 7 * 24 * time.Hour
	DefaultLogMaxBytes = 256 << 20

	logPrefix = "stoa.fn.logs."
	// maxLogBatch bounds one log message; an invocation that writes more is
	// kept in several messages.
	maxLogBatch = 256 << 10
)

// Headers of a log message.
const (
	hdrFunction = "Stoa-Fn"
	hdrVersion  = "Stoa-Fn-Version"
	hdrRequest  = "Stoa-Fn-Request-Id"
)

// logSubject is the subject of the logs of one version of a function.
func logSubject(name string, version int) string {
	return logPrefix + name + "." + strconv.Itoa(version)
}

// ensureLogStream creates the log stream, or brings its limits to the
// ones given.
func ensureLogStream(ctx context.Context, js jetstream.JetStream, maxAge time.Duration, maxBytes int64) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        LogStream,
		Description: "Stoa function logs: one message per invocation, START to REPORT",
		Subjects:    []string{logPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("fn/worker: log stream %s: %w", LogStream, err)
	}
	return nil
}

// logWriter is an environment's lambda.Config.Log: it collects the lines
// of each invocation and publishes them as one message when the REPORT
// line comes (or when the batch grows large, or the environment closes).
// Publishing is fire-and-forget, so a slow stream never holds up a
// function; the stream's limits bound what is kept.
type logWriter struct {
	nc      *nats.Conn
	subject string
	name    string
	version string

	mu    sync.Mutex
	buf   []byte
	reqID string
}

func newLogWriter(nc *nats.Conn, name string, version int) *logWriter {
	return &logWriter{nc: nc, subject: logSubject(name, version), name: name, version: strconv.Itoa(version)}
}

var (
	startPrefix  = []byte("START RequestId: ")
	reportPrefix = []byte("REPORT RequestId: ")
)

// Write takes one line, newline included.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.HasPrefix(p, startPrefix) {
		l.flushLocked()
		id, _, _ := strings.Cut(string(p[len(startPrefix):]), " ")
		l.reqID = strings.TrimSpace(id)
	}
	l.buf = append(l.buf, p...)
	if bytes.HasPrefix(p, reportPrefix) || len(l.buf) >= maxLogBatch {
		l.flushLocked()
	}
	return len(p), nil
}

// flush publishes what is collected.
func (l *logWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *logWriter) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	m := &nats.Msg{Subject: l.subject, Data: l.buf, Header: nats.Header{
		hdrFunction: {l.name},
		hdrVersion:  {l.version},
	}}
	if l.reqID != "" {
		m.Header[hdrRequest] = []string{l.reqID}
	}
	l.nc.PublishMsg(m) // best effort: a closed connection loses the lines
	l.buf = nil
}

// LogRecord is one message of a function's log: the lines of one
// invocation from START to REPORT, or lines written outside any
// invocation (during init, or after a crash).
type LogRecord struct {
	Function  string
	Version   int
	RequestID string    // "" for lines outside an invocation
	Time      time.Time // when the worker stored it
	Text      []byte    // lines, each ending in a newline
}

// LogOptions select what ReadLogs reads.
type LogOptions struct {
	// Version, if not 0, reads only that version's logs.
	Version int
	// Since, if set, skips logs stored before it.
	Since time.Time
	// Follow keeps reading new logs as they come, until ctx ends;
	// otherwise ReadLogs returns once it has read what was kept.
	Follow bool
}

// ReadLogs calls f, in order, with each log record of the function name
// kept in the log stream. It returns f's first error, nil when it has read
// everything (or, with Follow, when ctx ends), or an error if the stream
// cannot be read. A function that never ran has no records.
func ReadLogs(ctx context.Context, js jetstream.JetStream, name string, opts LogOptions, f func(LogRecord) error) error {
	subject := logPrefix + name + ".*"
	if opts.Version > 0 {
		subject = logSubject(name, opts.Version)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !opts.Since.IsZero() {
		since := opts.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	_, err := js.Stream(ctx, LogStream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) && !opts.Follow:
		return nil // no worker has made the stream: nothing ran
	case errors.Is(err, jetstream.ErrStreamNotFound):
		// Following before any worker made the stream: make it, with the
		// default limits, so that there is something to follow.
		if err := ensureLogStream(ctx, js, DefaultLogMaxAge, DefaultLogMaxBytes); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("fn/worker: logs: %w", err)
	}
	c, err := js.OrderedConsumer(ctx, LogStream, cfg)
	if err != nil {
		return fmt.Errorf("fn/worker: logs: %w", err)
	}
	if !opts.Follow {
		info, err := c.Info(ctx)
		if err != nil {
			return fmt.Errorf("fn/worker: logs: %w", err)
		}
		if info.NumPending == 0 {
			return nil
		}
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("fn/worker: logs: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil && opts.Follow {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("fn/worker: logs: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("fn/worker: logs: %w", err)
		}
		h := m.Headers()
		v, _ := strconv.Atoi(h.Get(hdrVersion))
		rec := LogRecord{Function: h.Get(hdrFunction), Version: v, RequestID: h.Get(hdrRequest), Time: md.Timestamp, Text: m.Data()}
		if err := f(rec); err != nil {
			return err
		}
		if !opts.Follow && md.NumPending == 0 {
			return nil
		}
	}
}
