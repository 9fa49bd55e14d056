"""What a lab is made of, as the user chooses it: its name, its hosts, its underlay MTU.
The defaults here are the only ones (the CLI, the pytest plugin and the platform read them)."""

from __future__ import annotations

from dataclasses import dataclass

from netconform.errors import InputError

MAX_HOSTS = 9


@dataclass(frozen=True)
class LabConfig:
    name: str = "default"
    hosts: int = 3
    underlay_mtu: int = 1500

    def validate(self) -> None:
        if not self.name.isalnum() or len(self.name) > 12:
            raise InputError(f"lab name {self.name!r}: use 1-12 letters or digits")
        if not 2 <= self.hosts <= MAX_HOSTS:
            raise InputError(f"--hosts {self.hosts}: a lab has 2 to {MAX_HOSTS} hosts")
        if not 1280 <= self.underlay_mtu <= 9000:
            raise InputError(f"--underlay-mtu {self.underlay_mtu}: must be 1280..9000")
