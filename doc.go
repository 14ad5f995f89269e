// Package stoa is the act engine: services register handlers for message
// patterns, and callers send messages without knowing who answers. It is
// Seneca's model in Go, and matches Seneca 3.38 answer for answer.
//
// # Patterns and acts
//
// [Engine.Add] registers a [Handler] for a pattern; [Engine.Act] sends a
// message to the handler of the most specific matching pattern and returns
// its JSON reply:
//
//	e := stoa.New()
//	e.Add("role:math,cmd:sum", stoa.Handle(func(ctx context.Context, in SumIn) (SumOut, error) {
//		return SumOut{Answer: in.Left + in.Right}, nil
//	}))
//	out, err := e.Act(ctx, stoa.Msg{"role": "math", "cmd": "sum", "left": 1, "right": 2})
//	// out is {"answer":3}
//
// Patterns and messages may be written in Seneca's string form
// ("role:math,cmd:sum,left:1"), as a [Msg] or map, or as a struct. A message
// may carry more keys than the pattern. Values compare as JavaScript strings
// do, so 1 and "1" are equal. A pattern value containing '*' or '?' is a
// glob. A pattern value that is an object, an array or a [Rule] is not
// matched: it is a validation rule, with defaults, and a message that breaks
// it gets act_invalid_msg.
//
// # Which pattern answers
//
// The router is Seneca's (patrun's): pattern keys are taken in sorted order
// and the walk prefers, at each key, a pattern that has it over one that
// does not. So a pattern with more keys wins over its own prefix
// (role:math,cmd:sum,integer:true beats role:math,cmd:sum), but between
// patterns whose first keys differ, the alphabetically first key decides,
// even against more keys. An exact value beats a glob; among globs the first
// added wins. Adding a pattern again replaces it; the replaced handler is
// what [Prior] calls. The table of cases in testdata/seneca, run against
// real Seneca by the tests, is the specification.
//
// # Errors and deadlines
//
// Every act error is an [*Error] with Seneca's code: act_not_found,
// act_execute (a handler's error or panic), action_timeout,
// act_invalid_msg, result_not_objarr. Match them with errors.Is and the
// sentinels ([ErrNotFound], …): they compare codes, so an error decoded off
// the wire matches too. An act ends at the earliest of the context's
// deadline, the message's timeout$ (milliseconds) and the engine's timeout
// ([DefaultTimeout], 22222 ms as in Seneca). Handlers run on the caller's
// goroutine and see that deadline in their context; a reply that comes
// after it is discarded, and the caller gets action_timeout.
//
// # Metadata
//
// Every act carries a [Meta]: its id, its transaction and parent ids, the
// caller, and the W3C trace context. Handlers read it with [ContextMeta];
// transports forward it and adopt a caller's with [WithMeta].
//
// # Local or remote
//
// A transport attaches to an engine as one more handler (a client adds its
// pins and forwards what they match), so a caller cannot tell local from
// remote. Package stoatest holds the conformance suite that proves it for
// each transport.
package stoa
