package gateway

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/stoaproject/stoa/fn"
)

// RegistryRoutes is the FunctionSource of a function registry: the routes
// each function's latest version declares in its configuration
// (fn.Config.Routes, "GET:/hello"), each invoking that function's latest
// version, as claudia's API points at the alias latest. A Server with a
// Registry and no Functions uses it.
func RegistryRoutes(r *fn.Registry) FunctionSource { return registryRoutes{r} }

type registryRoutes struct{ r *fn.Registry }

// WatchRoutes follows the registry's changes: every function's routes once
// the registry has reported the functions it has (fn.OpReady), then again
// after each change that touches them.
func (rr registryRoutes) WatchRoutes(ctx context.Context, set func([]Route)) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := rr.r.Watch(wctx)
	if err != nil {
		return err
	}
	byFn := map[string][]Route{}
	ready := false
	publish := func() {
		var all []Route
		for _, name := range slices.Sorted(maps.Keys(byFn)) {
			all = append(all, byFn[name]...)
		}
		set(all)
	}
	for ev := range events {
		switch ev.Op {
		case fn.OpReady:
			ready = true
			publish()
			continue
		case fn.OpDeleted:
			if _, ok := byFn[ev.Name]; !ok {
				continue
			}
			delete(byFn, ev.Name)
		default:
			rs := functionRoutes(ev.Name, ev.Latest)
			if old, ok := byFn[ev.Name]; ok && slices.EqualFunc(old, rs, func(a, b Route) bool { return a.Key() == b.Key() }) {
				continue // an alias moved, or code changed: the routes are the same
			}
			if len(rs) == 0 {
				delete(byFn, ev.Name)
			} else {
				byFn[ev.Name] = rs
			}
		}
		if ready {
			publish()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("gateway: the function registry's watch ended")
}

// functionRoutes reads a version's routes. A route that does not parse is
// kept as it is written, so that the table refuses it and lists it among
// the conflicts with the reason, rather than dropping it unseen.
func functionRoutes(name string, v *fn.Version) []Route {
	if v == nil {
		return nil
	}
	var rs []Route
	for _, spec := range v.Config.Routes {
		r, err := ParseRoute(spec)
		if err != nil {
			m, p, _ := strings.Cut(spec, ":")
			r = Route{Method: m, Path: p}
		}
		r.Function, r.Source = name, "function:"+name
		rs = append(rs, r)
	}
	return rs
}
