"""The Swarm checks, registered once for every test of this package."""

from netconform.contexts import load_checks

load_checks("swarm")
