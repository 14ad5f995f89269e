package stoa

import (
	"context"
	"strconv"
)

// Meta is what an act carries besides its message. Transports forward it;
// handlers read it with ContextMeta.
type Meta struct {
	ID          string `json:"id"`                    // this act, unique across engines
	TxID        string `json:"tx,omitempty"`          // the first act of the chain this act belongs to
	ParentID    string `json:"parent,omitempty"`      // the act whose handler sent this one, if any
	Caller      string `json:"caller,omitempty"`      // the engine or client that sent the act
	TraceParent string `json:"traceparent,omitempty"` // W3C trace context: traceparent
	TraceState  string `json:"tracestate,omitempty"`  // W3C trace context: tracestate
}

type metaKey struct{}

// WithMeta returns a context whose next Act uses m: transports use it to
// give an incoming act the caller's id and trace context. Fields left
// empty are filled in as for any act.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return &metaCtx{Context: ctx, m: m}
}

// metaCtx carries a Meta for the next act: one allocation where
// context.WithValue and a *Meta took two, on every act a transport serves.
type metaCtx struct {
	context.Context
	m Meta
}

func (c *metaCtx) Value(key any) any {
	if _, ok := key.(metaKey); ok {
		return &c.m
	}
	return c.Context.Value(key)
}

// ContextMeta returns the metadata of the act a handler is serving, or the
// zero Meta outside a handler.
func ContextMeta(ctx context.Context) Meta {
	ac, _ := ctx.Value(actKey{}).(*actCtx)
	if ac == nil {
		return Meta{}
	}
	return ac.meta()
}

// meta renders the act's metadata; ids are built only when asked for.
func (ac *actCtx) meta() Meta {
	var m Meta
	if ac.given != nil {
		m = *ac.given
	}
	if m.ID == "" {
		m.ID = ac.e.prefix + strconv.FormatUint(ac.seq, 36)
	}
	if ac.parent != nil {
		pm := ac.parent.meta()
		if m.ParentID == "" {
			m.ParentID = pm.ID
		}
		if m.TxID == "" {
			m.TxID = pm.TxID
		}
		if m.TraceParent == "" {
			m.TraceParent, m.TraceState = pm.TraceParent, pm.TraceState
		}
	}
	if m.TxID == "" {
		m.TxID = m.ID
	}
	if m.Caller == "" {
		m.Caller = ac.e.id
	}
	return m
}
