"""The closed sets: the fault table and the Fault enum are one set, and the aspect table's
keys are well formed and in the area they say."""

from __future__ import annotations

import re

from netconform import aspects
from netconform.lab.faults import FAULT_KINDS
from netconform.vocab import Fault


def test_every_fault_kind_is_a_fault_and_every_fault_is_injectable() -> None:
    assert set(FAULT_KINDS) == set(Fault)


def test_aspect_keys_are_dotted_and_start_with_their_area() -> None:
    table = aspects.table()
    assert len(table) > len(aspects.STATIC) > 40  # the static rows plus one per netpol case
    for key, aspect in table.items():
        assert aspect.key == key
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", key), key
        assert key.split(".")[0] == aspect.area, key
        assert aspect.title, key
