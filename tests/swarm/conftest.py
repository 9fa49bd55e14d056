"""The Swarm checks, registered once for every test of this package."""

from netconform.platforms.registry import load_checks

load_checks("swarm")
