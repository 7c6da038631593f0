// Package callstart lets the middleware start a client call's span in
// memory it owns: the [otelaudit.Call] and the content slot are fields of
// its per-call state instead of allocations of their own, and the start
// time and attributes are passed as they are rather than as options made
// per call.
//
// otelaudit sets Start in its init to a
//
//	func(ctx context.Context, c *otelaudit.Call, sl *handoff.Slot, req otelaudit.Request,
//		name string, start time.Time, extra []attribute.KeyValue, opts []otelaudit.CallOption) context.Context
//
// that starts the call as otelaudit.StartCall(ctx, req, opts...) would,
// with the span named name (StartCall's "{operation} {model}"),
// otelaudit.WithStartTime(start) and otelaudit.WithAttributes(extra...),
// into the zero *c and the zero *sl. Only the middleware may call it: c
// and sl must stay alive and unmoved until the audit worker has read the
// call's content, which the middleware's state does for both.
package callstart

// Start is otelaudit's start of a call into caller-owned memory; see the
// package documentation for its type and contract.
var Start any
