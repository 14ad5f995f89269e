package fn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Op is what happened to a function, as [Registry.Watch] reports it.
type Op string

// The operations of an [Event].
const (
	OpCreated Op = "created" // the function is new to this watch (also: each function existing when the watch began)
	OpUpdated Op = "updated" // a new version: Latest moved (aliases may have changed too)
	OpAliased Op = "aliased" // an alias was set, moved or removed; Latest did not move
	OpDeleted Op = "deleted" // the function is gone
	OpReady   Op = "ready"   // every function existing when the watch began has been reported
)

// Event is a change to a function, as [Registry.Watch] reports it.
type Event struct {
	Op       Op
	Name     string    // the function; empty for OpReady
	Function *Function // the function after the change; nil for OpDeleted and OpReady
	Latest   *Version  // its latest version after the change; nil for OpDeleted and OpReady
	Revision uint64    // the bucket revision of the change; they increase
}

// Watch reports changes to functions and their aliases, so that a worker
// learns that "latest" or an alias moved without polling. It first reports
// the registry as it is, one OpCreated per function, then OpReady, then
// each change as it is committed.
//
// Ordering: events come in commit order across the whole registry (their
// Revision increases), so a function's events come in the order its
// changes happened. A change that moves nothing (an alias set to the
// version it had) is not reported.
//
// Reconnects: when the connection comes back (the server restarted, or a
// client moved to another server of a cluster), the watch resumes after the
// last revision it reported. Nothing is lost, but changes made meanwhile
// may be merged: two updates may be reported as one OpUpdated carrying the
// newest version, a delete and a create of the same name as OpDeleted then
// OpCreated. The last event for a function always describes it as it is.
//
// A slow reader slows the watch; events are never dropped. The channel is
// closed when ctx is done, when the connection is closed, or when the watch
// cannot resume (the bucket was deleted).
func (r *Registry) Watch(ctx context.Context) (<-chan Event, error) {
	nc := r.js.Conn()
	reconnected := nc.StatusChanged(nats.CONNECTED) // after a reconnect; the first connect is past
	w, err := r.kv.Watch(ctx, headKey("*"))
	if err != nil {
		nc.RemoveStatusListener(reconnected)
		return nil, fmt.Errorf("fn: watching: %w", err)
	}
	ch := make(chan Event, 64)
	go func() {
		defer close(ch)
		defer nc.RemoveStatusListener(reconnected)
		r.watch(ctx, nc, w, reconnected, ch)
	}()
	return ch, nil
}

// Backoff between attempts to resume a watch after a reconnect, while
// JetStream is not yet ready on the server.
const (
	minResumeWait = 50 * time.Millisecond
	maxResumeWait = 5 * time.Second
)

// watch forwards the changes w sees to ch, resuming after a reconnect.
func (r *Registry) watch(ctx context.Context, nc *nats.Conn, w jetstream.KeyWatcher, reconnected <-chan nats.Status, ch chan<- Event) {
	known := map[string]*head{}
	var last uint64 // the last revision seen
	ready := false
	send := func(e Event) bool {
		select {
		case ch <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	updates := w.Updates()
	// stop ends w. Its channel is drained until the watcher closes it,
	// since the watcher blocks sending on it while it holds its lock.
	stop := func() {
		if w == nil {
			return
		}
		w.Stop()
		go func(c <-chan jetstream.KeyValueEntry) {
			for range c {
			}
		}(w.Updates())
		w, updates = nil, nil
	}
	defer stop()
	var retry <-chan time.Time // set while waiting to resume
	wait := minResumeWait
	// resume starts a new watch after the last revision seen; false means
	// the watch cannot go on.
	resume := func() bool {
		stop()
		retry = nil
		nw, err := r.kv.Watch(ctx, headKey("*"), jetstream.IncludeHistory(), jetstream.ResumeFromRevision(last+1))
		switch {
		case err == nil:
			w, updates, wait = nw, nw.Updates(), minResumeWait
			return true
		case ctx.Err() != nil || nc.IsClosed() || errors.Is(err, nats.ErrStreamNotFound) ||
			errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound):
			return false
		}
		retry = time.After(wait) // JetStream may still be recovering on a restarted server
		wait = min(2*wait, maxResumeWait)
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reconnected:
			if !resume() {
				return
			}
		case <-retry:
			if !resume() {
				return
			}
		case e, ok := <-updates:
			if !ok {
				if !resume() {
					return
				}
				continue
			}
			if e == nil {
				if !ready {
					ready = true
					if !send(Event{Op: OpReady, Revision: last}) {
						return
					}
				}
				continue
			}
			if e.Revision() <= last {
				continue // seen before a resume
			}
			last = e.Revision()
			for _, ev := range diff(known, e) {
				if !send(ev) {
					return
				}
			}
		}
	}
}

// diff compares an entry of a function's key with what the watch knew of
// the function, updates known, and returns the events that tell the change.
func diff(known map[string]*head, e jetstream.KeyValueEntry) []Event {
	name := e.Key()[len(headKey("")):]
	prev := known[name]
	deleted := Event{Op: OpDeleted, Name: name, Revision: e.Revision()}
	if e.Operation() != jetstream.KeyValuePut {
		delete(known, name)
		if prev == nil {
			return nil
		}
		return []Event{deleted}
	}
	h, err := decodeHead(e.Value())
	if err != nil {
		return nil // not a record this package wrote
	}
	known[name] = h
	f, v := h.Function, h.Current // copies for the receiver, who may change them
	f.Aliases, v.Config = maps.Clone(f.Aliases), v.Config.withDefaults()
	ev := Event{Name: name, Function: &f, Latest: &v, Revision: e.Revision()}
	switch {
	case prev == nil:
		ev.Op = OpCreated
	case prev.ID != h.ID:
		ev.Op = OpCreated
		return []Event{deleted, ev}
	case prev.Latest != h.Latest:
		ev.Op = OpUpdated
	case !maps.Equal(prev.Aliases, h.Aliases):
		ev.Op = OpAliased
	default:
		return nil
	}
	return []Event{ev}
}
