package worker_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/worker"
)

// fakeRegistry is an in-memory registry with fn's semantics: numbered
// immutable versions, latest, aliases, and a watch that reports each
// change in order.
type fakeRegistry struct {
	mu       sync.Mutex
	funcs    map[string]*fn.Function
	versions map[string][]*fn.Version
	bundles  map[string]string // "name:version" → directory
	watchers map[int]chan fn.Event
	nextW    int
	rev      uint64
}

var _ worker.Registry = (*fakeRegistry)(nil)

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{funcs: map[string]*fn.Function{}, versions: map[string][]*fn.Version{},
		bundles: map[string]string{}, watchers: map[int]chan fn.Event{}}
}

// put stores the next version of name, moves latest to it and tells the
// watchers before it returns.
func (r *fakeRegistry) put(name, bundle string, cfg fn.Config) *fn.Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.funcs[name]
	if f == nil {
		f = &fn.Function{Name: name, Aliases: map[string]int{}, Created: time.Now()}
	} else {
		f = clone(f)
	}
	f.Latest++
	f.Updated = time.Now()
	v := &fn.Version{Function: name, Number: f.Latest, Config: cfg, Created: f.Updated}
	r.versions[name] = append(r.versions[name], v)
	r.bundles[fmt.Sprintf("%s:%d", name, v.Number)] = bundle
	op := fn.OpUpdated
	if f.Latest == 1 {
		op = fn.OpCreated
	}
	r.funcs[name] = f
	r.tell(op, name, f)
	return v
}

func (r *fakeRegistry) alias(name, alias string, version int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := clone(r.funcs[name])
	f.Aliases[alias] = version
	r.funcs[name] = f
	r.tell(fn.OpAliased, name, f)
}

func (r *fakeRegistry) remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.funcs, name)
	delete(r.versions, name)
	r.tell(fn.OpDeleted, name, nil)
}

func clone(f *fn.Function) *fn.Function {
	c := *f
	c.Aliases = maps.Clone(f.Aliases)
	if c.Aliases == nil {
		c.Aliases = map[string]int{}
	}
	return &c
}

// tell sends the change to every watcher; r.mu is held, so changes
// arrive in order. A watcher must keep up (its channel is large).
func (r *fakeRegistry) tell(op fn.Op, name string, f *fn.Function) {
	r.rev++
	for _, ch := range r.watchers {
		ch <- fn.Event{Op: op, Name: name, Function: f, Revision: r.rev}
	}
}

func (r *fakeRegistry) Resolve(ctx context.Context, name, qualifier string) (*fn.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.funcs[name]
	if f == nil {
		return nil, &fn.Error{Code: fn.CodeNotFound, Function: name, Message: "no such function"}
	}
	n := f.Latest
	if qualifier != "" && qualifier != "latest" {
		var err error
		if n, err = strconv.Atoi(qualifier); err != nil {
			a, ok := f.Aliases[qualifier]
			if !ok {
				return nil, &fn.Error{Code: fn.CodeAliasNotFound, Function: name, Message: "no alias " + qualifier}
			}
			n = a
		}
	}
	if n < 1 || n > len(r.versions[name]) {
		return nil, &fn.Error{Code: fn.CodeVersionNotFound, Function: name, Message: "no version " + qualifier}
	}
	return r.versions[name][n-1], nil
}

func (r *fakeRegistry) Code(ctx context.Context, v *fn.Version, dir string) error {
	r.mu.Lock()
	src := r.bundles[fmt.Sprintf("%s:%d", v.Function, v.Number)]
	r.mu.Unlock()
	return os.CopyFS(dir, os.DirFS(src))
}

func (r *fakeRegistry) Watch(ctx context.Context) (<-chan fn.Event, error) {
	ch := make(chan fn.Event, 1024)
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextW
	r.nextW++
	for name, f := range r.funcs {
		ch <- fn.Event{Op: fn.OpCreated, Name: name, Function: f, Revision: r.rev}
	}
	ch <- fn.Event{Op: fn.OpReady, Revision: r.rev}
	r.watchers[id] = ch
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.watchers, id)
		close(ch)
	})
	return ch, nil
}
