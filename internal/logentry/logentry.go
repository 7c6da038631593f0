// Package logentry lets the exporter build an audit entry with an
// otelaudit.Logger for an interaction whose metadata it checked as it
// made each value, so that the entry's validation does not walk the
// metadata a second time, and have the entry made in memory the Logger
// lends (internal/lend) when it writes the entry to the Logger's backend
// itself. It is internal on purpose: users of the module have no way to
// skip a check or to be lent an entry.
package logentry

// Entry is, once package otelaudit is initialised, a
//
//	func(l *otelaudit.Logger, in otelaudit.Interaction, mdChecked, borrow bool) (*storage.AuditEntry, lend.Loan, error)
//
// that is l.Entry(in) when mdChecked and borrow are false.
//
// With mdChecked it does exactly what Logger.Entry does (ids, hashes,
// content, UTF-8 repair, validation) except that it leaves the
// interaction's metadata out of the validation. A caller may set
// mdChecked only for metadata in which every key is valid UTF-8 and every
// value v passes jsontext.CheckAny(v, 2, storage.MaxNesting), the rule
// storage.AuditEntry.Validate applies to each metadata value.
//
// With borrow, when l's backend borrows entries (lend.Borrows), the entry
// is made in a loan, returned beside it (nil otherwise, and on error). A
// caller may set borrow only if it gives the entry to no one but l's
// backend, and ends the loan once no write, retry or spool of the entry
// can use it any more.
//
// It is typed any because this package cannot name otelaudit's types
// (otelaudit imports it); the exporter asserts its type once, at its own
// initialisation.
var Entry any
