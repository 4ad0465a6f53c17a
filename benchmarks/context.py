"""`Context`: what every section of a suite run shares (settings, data, peers, notes)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.data import Data
from benchmarks.settings import Settings
from tinynet.modelfile import ModelFile


def print_line(line: str) -> None:
    """Print one progress line and flush, so it shows while the next measurement runs."""
    print(line, flush=True, file=sys.stdout)


@dataclass
class Context:
    """The settings, the data, the model file under test and which peers can run.

    ``threads`` is the number of BLAS threads NumPy uses (torch is set to the same).
    ``notes`` collects what a reader of the results must know (a skipped peer, a
    target not reached); `note` also prints it.
    """

    settings: Settings
    data: Data
    model_file: ModelFile
    peers: dict[str, bool]
    threads: int
    notes: list[str] = field(default_factory=list)
    log: Callable[[str], None] = print_line

    @property
    def settle_seconds(self) -> float:
        """The untimed pause before each round (`benchmarks.timing.alternate`): 0.3 s
        with several threads, so one library's spinning pool never competes with the
        next case; none with one thread (no pool) or at the smoke mode's toy sizes."""
        return 0.3 if self.threads > 1 and self.settings.mode != "smoke" else 0.0

    def has(self, peer: str) -> bool:
        """Whether ``peer`` is importable and was asked for."""
        return self.peers.get(peer, False)

    def note(self, message: str) -> None:
        """Record ``message`` for the report and print it."""
        if message not in self.notes:
            self.notes.append(message)
        self.log(f"  note: {message}")
