"""netconform: conformance and comparison harness for container overlay networks."""

__version__ = "0.1.0"
