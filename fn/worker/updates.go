package worker

// Following the registry: versions that latest and the aliases leave are
// retired, and the ones they move to are pre-warmed.

import (
	"context"
	"strconv"
	"time"

	"github.com/stoaproject/stoa/fn"
)

// onChange is the registry watch's callback: f is the function's record
// now, nil once it is deleted. A version that neither latest nor an alias
// points at any more is retired; when latest or an alias moves from a
// version with live environments, its new target is pre-warmed with as
// many.
func (w *Worker) onChange(name string, f *fn.Function) {
	type warm struct {
		version, n int
	}
	var retire []*pool
	var warms []warm
	w.mu.Lock()
	old := w.funcs[name]
	if f == nil {
		delete(w.funcs, name)
	} else {
		w.funcs[name] = f
	}
	targets := targetsOf(f)
	for _, p := range w.pools {
		if p.v.Function == name && !targets[p.v.Number] {
			retire = append(retire, p)
		}
	}
	if old != nil && f != nil {
		moved := map[int]int{} // new target → environments live on the old one
		check := func(from, to int) {
			if from == to || from == 0 || to == 0 {
				return
			}
			if p := w.pools[poolKey(name, from)]; p != nil {
				p.mu.Lock()
				live := p.live
				p.mu.Unlock()
				if live > moved[to] {
					moved[to] = live
				}
			}
		}
		check(old.Latest, f.Latest)
		for alias, from := range old.Aliases {
			check(from, f.Aliases[alias])
		}
		for to, n := range moved {
			if n > 0 {
				warms = append(warms, warm{to, n})
			}
		}
	}
	w.mu.Unlock()
	for _, p := range retire {
		p.retire()
	}
	for _, wm := range warms {
		w.goBackground(func(ctx context.Context) { w.prewarm(ctx, name, wm.version, wm.n) })
	}
	if len(retire) > 0 {
		w.notify()
	}
}

// watch follows the registry's changes until the worker closes, watching
// again if the watch ends early (a closed connection, a deleted bucket).
func (w *Worker) watch(ctx context.Context) {
	for ctx.Err() == nil {
		ch, err := w.Registry.Watch(ctx)
		if err == nil {
			for ev := range ch {
				switch ev.Op {
				case fn.OpReady:
				case fn.OpDeleted:
					w.onChange(ev.Name, nil)
				default:
					w.onChange(ev.Name, ev.Function)
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("fn/worker: the registry watch ended; watching again in 1 s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// targetsOf returns the versions latest and the aliases of f point at.
func targetsOf(f *fn.Function) map[int]bool {
	t := map[int]bool{}
	if f == nil {
		return t
	}
	t[f.Latest] = true
	for _, v := range f.Aliases {
		t[v] = true
	}
	return t
}

// prewarm starts n environments of a function version in the background.
func (w *Worker) prewarm(ctx context.Context, name string, version, n int) {
	v, err := w.Registry.Resolve(ctx, name, strconv.Itoa(version))
	if err != nil {
		w.log.Warn("fn/worker: cannot pre-warm", "function", name, "version", version, "err", err)
		return
	}
	p, err := w.hold(v, false)
	if err != nil {
		return
	}
	defer w.unhold(p)
	w.log.Debug("fn/worker: pre-warming", "function", name, "version", version, "environments", n)
	p.prewarm(n)
}
