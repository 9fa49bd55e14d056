"""Platforms: one module per platform behind the Platform protocol in base.py."""
