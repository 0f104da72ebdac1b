"""Tasks for the timing worker's tests (``tests/test_worker.py``): module-level classes, so the
worker process can unpickle them (it starts with this process's ``sys.path``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class WhereAmI:
    """The worker's process id and torch's thread count there."""

    def run(self, stop: Callable[[], bool]) -> tuple[int, int]:
        import torch

        return os.getpid(), torch.get_num_threads()


@dataclass(frozen=True)
class Exit:
    """The worker dies in the middle of a task (as when the kernel kills it for its memory)."""

    code: int = 3

    def run(self, stop: Callable[[], bool]) -> None:
        os._exit(self.code)


@dataclass(frozen=True)
class Hang:
    """The worker never answers (and ignores stop)."""

    def run(self, stop: Callable[[], bool]) -> None:
        time.sleep(3600)


@dataclass(frozen=True)
class UntilStopped:
    """Works until told to stop, then raises ``timing.Interrupted``, as a measurement does."""

    def run(self, stop: Callable[[], bool]) -> None:
        from spp_viz.timing import Interrupted

        while not stop():
            time.sleep(0.005)
        raise Interrupted("stopped")


@dataclass(frozen=True)
class Fails:
    message: str

    def run(self, stop: Callable[[], bool]) -> None:
        raise ValueError(self.message)
