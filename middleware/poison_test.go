package middleware

// Every test of the package runs with recycled capture buffers overwritten
// when they are given back: an entry that kept a string sharing one would
// hold '#' runs instead of what was sent, and the tests that check content
// would fail.
func init() { poisonReleased = true }
