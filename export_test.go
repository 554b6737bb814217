package waqtor

// SetSendHook makes c call fn in every send after the early consent check and
// before the transaction that stores the message (and checks consent again).
// Set it before the Core sends anything.
func SetSendHook(c *Core, fn func()) { c.sendHook = fn }
