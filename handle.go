package stoa

import (
	"context"
	"encoding/json"
	"fmt"
)

// Handle makes a Handler from a function on Go types. The message is
// decoded into Req once (straight from the JSON it arrived as, when it
// did), and the Resp returned is encoded once:
//
//	type SumIn struct{ Left, Right float64 }
//	type SumOut struct{ Answer float64 `json:"answer"` }
//	e.Add("role:math,cmd:sum", stoa.Handle(func(ctx context.Context, in SumIn) (SumOut, error) {
//		return SumOut{in.Left + in.Right}, nil
//	}))
//
// A message that does not decode into Req fails with act_invalid_msg.
func Handle[Req, Resp any](f func(context.Context, Req) (Resp, error)) Handler {
	return func(ctx context.Context, msg Msg) (any, error) {
		var req Req
		if m, ok := any(&req).(*Msg); ok {
			*m = msg
		} else if err := decodeInto(ctx, msg, &req); err != nil {
			return nil, &Error{Code: CodeInvalidMsg, Message: fmt.Sprintf("message does not decode into %T: %v", req, err), Err: err}
		}
		resp, err := f(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// decodeInto decodes msg into v, from the JSON the act arrived as when the
// engine still has it.
func decodeInto(ctx context.Context, msg Msg, v any) error {
	if ac, ok := ctx.Value(actKey{}).(*actCtx); ok && ac.raw != nil && sameMap(ac.msg, msg) {
		return json.Unmarshal(ac.raw, v)
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Call acts msg on e and decodes the reply into a Resp.
func Call[Resp any](ctx context.Context, e *Engine, msg any) (Resp, error) {
	var resp Resp
	out, err := e.Act(ctx, msg)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, &Error{Code: CodeResult, Message: fmt.Sprintf("reply does not decode into %T: %v", resp, err), Err: err}
	}
	return resp, nil
}

type priorKey struct{}

// Prior calls, from inside a handler, the handler that the running one
// replaced when its pattern was added (Seneca's this.prior), with msg, and
// returns its JSON reply. With no prior handler the reply is the message's
// default$ object if it has one, else null.
func Prior(ctx context.Context, msg Msg) (json.RawMessage, error) {
	cur, _ := ctx.Value(priorKey{}).(*action)
	if cur == nil {
		ac, ok := ctx.Value(actKey{}).(*actCtx)
		if !ok {
			return nil, &Error{Code: CodeExecute, Message: "prior called outside a handler"}
		}
		cur = ac.act
	}
	p := cur.prior.Load()
	if p == nil {
		if d, ok := msg["default$"]; ok && isCompound(d) {
			return json.Marshal(d)
		}
		return nullJSON, nil
	}
	if p.rules != nil {
		valid, err := p.rules.validate(msg)
		if err != nil {
			return nil, &Error{Code: CodeInvalidMsg, Pattern: p.pattern, Message: fmt.Sprintf("action %s received an invalid message; %v", p.pattern, err), Err: err}
		}
		msg = valid
	}
	out, err := callHandler(context.WithValue(ctx, priorKey{}, p), p, msg)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// callHandler runs a handler on this goroutine, turning a panic into an
// act_execute error.
func callHandler(ctx context.Context, a *action, msg Msg) (out json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &Error{Code: CodeExecute, Pattern: a.pattern, Message: fmt.Sprintf("action %s failed: panic: %v", a.pattern, r)}
		}
	}()
	v, err := a.h(ctx, msg)
	if err != nil {
		return nil, handlerError(a, err)
	}
	return encodeReply(a, v)
}
