"""The check catalogue: check specs (stable ids, areas, spec references) and their code.

Modules per family and area register checks into `netconform.checks.base.CATALOGUE`.
"""
