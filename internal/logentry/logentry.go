// Package logentry lets the exporter build an audit entry with an
// otelaudit.Logger for an interaction whose metadata it checked as it
// made each value, so that the entry's validation does not walk the
// metadata a second time. It is internal on purpose: users of the module
// have no way to skip a check.
package logentry

// Entry is, once package otelaudit is initialised, a
//
//	func(l *otelaudit.Logger, in otelaudit.Interaction, mdChecked bool) (*storage.AuditEntry, error)
//
// that is l.Entry(in) when mdChecked is false, and otherwise does exactly
// what Logger.Entry does (ids, hashes, content, UTF-8 repair, validation)
// except that it leaves the interaction's metadata out of the validation.
// A caller may set mdChecked only for metadata in which every key is
// valid UTF-8 and every value v passes
// jsontext.CheckAny(v, 2, storage.MaxNesting), the rule
// storage.AuditEntry.Validate applies to each metadata value.
//
// It is typed any because this package cannot name otelaudit's types
// (otelaudit imports it); the exporter asserts its type once, at its own
// initialisation.
var Entry any
