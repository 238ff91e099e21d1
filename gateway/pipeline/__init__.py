"""The gateway core: the durable receive pipeline and the send queue (issue 5)."""
