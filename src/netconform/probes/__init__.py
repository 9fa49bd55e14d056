"""Batch probing: probe values, the in-endpoint agent, and the executors that run it."""
