"""The timing worker: a process of its own that takes every measurement the page, the CLI and the
benchmarks show.

A stopwatch that shares a process with a web server shares its interpreter lock and its threads:
a small CPU op (a 5 x 5 max pool on a small map) is dispatched in Python each call, and a server
thread serialising a page holds the lock for milliseconds at a time, so the op, and the timing
with it, waits. Here each process that measures has one worker, started once and reused. It is a
fresh interpreter (``python -c``, as a ``spawn`` start would be, never a ``fork`` of a process
whose torch already has threads), and unlike multiprocessing's ``spawn`` it never re-imports the
starting program's main module (a script without a ``__main__`` guard would run again there).

- **It is given what it times.** A :class:`Task` is a picklable value whose ``run(stop)`` the worker
  calls: the heads' task carries the stage map (by value: :class:`TensorValue`, with its device)
  and each head's id and build arguments (the worker builds the same seeded module:
  :func:`spp_viz.heads.registry.build_head`); a region's or the scales' task carries the
  backbone's load arguments (:class:`spp_viz.backbones.BackboneLoad`) and the images.
- **One thread count, fixed.** torch's intra-op threads are set once when the worker starts
  (:data:`ENV_THREADS`, else the starting process's own count less one core left to the server
  and the browser, at least 1: :func:`default_threads`); every ``Latency`` it returns carries
  that count and its device.
- **Stoppable.** ``run(task, stop)`` asks ``stop()`` while it waits; once it says so, the worker is
  told (a message on a second socket, read between two timed blocks), the task raises
  :class:`spp_viz.timing.Interrupted`, and nothing of it is returned.
- **Restarted when dead or hung.** A worker that exits, or does not answer within
  ``task_timeout_s``, is killed and a new one started; the caller gets :class:`WorkerError` (one
  sentence: the figures are missing), never a part of a run.

:func:`run` is the one entry point (``spp_viz.family.measure_heads``, ``spp_viz.regions`` and
``spp_viz.scales`` call it). :func:`inline` runs tasks in the calling thread instead, for tests that
watch what the engine does in-process (the tensor-factory audit, a fake CUDA).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, TypeVar

from .admission import usable_cores

if TYPE_CHECKING:  # the page imports this module for its first run, which needs neither
    import numpy as np
    from torch import Tensor

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

ENV_THREADS = "SPP_VIZ_TIMING_THREADS"  # torch's intra-op threads in the worker (default: the starting process's)
START_TIMEOUT_S = 180.0  # a new worker imports torch: slow on two busy cores
TASK_TIMEOUT_S = 300.0  # one task (a whole family on a 12 MP photo's native map stays well below)
STOP_GRACE_S = 10.0  # a stopped task's worker answers within one block; else it is killed
POLL_S = 0.02  # how often a waiting caller asks ``stop()``
LOG = logging.getLogger("spp_viz.worker")
_BOOT = ("import json, sys; sys.path[:0] = [p for p in json.loads(sys.argv[1]) if p not in sys.path]; "
         "from spp_viz.worker import serve; serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))")


class Task(Protocol[T_co]):
    """What the worker runs: a picklable value (its class importable in the worker) whose ``run``
    takes ``stop`` (true once the caller wants it stopped: raise ``timing.Interrupted``)."""

    def run(self, stop: Callable[[], bool]) -> T_co: ...


@dataclass(frozen=True)
class TensorValue:
    """A tensor by value, for a task: its numbers (a numpy array) and the device it lived on."""

    array: np.ndarray = field(repr=False)
    device: str

    @classmethod
    def of(cls, tensor: Tensor) -> TensorValue:
        return cls(tensor.detach().cpu().numpy(), str(tensor.device))

    def tensor(self) -> Tensor:
        """The tensor again, on its device."""
        import torch

        return torch.from_numpy(self.array).to(self.device)


class WorkerError(RuntimeError):
    """The worker stopped or hung before it answered: it was restarted, the figures are missing."""


def default_threads() -> int:
    """:data:`ENV_THREADS` when set to a positive number, else torch's threads in this process,
    leaving one of the cores this process may use to the others (at least 1): with as many
    intra-op threads as cores, any other runnable thread (the server's, the browser's) holds one
    of them, and a block of small ops waits for it (the figures: docs/timing.md)."""
    value = os.environ.get(ENV_THREADS, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    import torch

    return max(1, min(torch.get_num_threads(), usable_cores() - 1))


def _send(conn: Connection, value: object) -> None:
    """Plain pickles (tensors by value, never torch's shared-memory handles)."""
    conn.send_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _receive(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


class _Halt:
    """The worker's side of "stop": task numbers the caller asked to stop, read without waiting."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._stopped: set[int] = set()
        self.task = 0

    def __call__(self) -> bool:
        while self._conn.poll():
            self._stopped.add(_receive(self._conn))
        return self.task in self._stopped


def serve(tasks_fd: int, halt_fd: int, threads: int) -> None:
    """The worker's loop: fix torch's threads, say ready, then run each ``(number, task)``
    received and answer ``("ok" | "interrupted" | "error", value)``; ends when the starting
    process closes its end."""
    import torch

    from .timing import Interrupted

    torch.set_num_threads(threads)
    conn, halt = Connection(tasks_fd), _Halt(Connection(halt_fd))
    _send(conn, ("ready", os.getpid()))
    while True:
        try:
            halt.task, task = _receive(conn)
        except EOFError:
            return
        except Exception as exc:  # a task that cannot be unpickled here (a module the worker cannot import)
            _answer(conn, ("error", exc))
            continue
        try:
            reply: tuple[str, Any] = ("ok", task.run(halt))
        except Interrupted:
            reply = ("interrupted", None)
        except Exception as exc:
            reply = ("error", exc)
        _answer(conn, reply)


def _answer(conn: Connection, reply: tuple[str, Any]) -> None:
    try:
        _send(conn, reply)
    except Exception as exc:  # a result or an exception that does not pickle: say what it was
        error = reply[1] if reply[0] == "error" else exc
        _send(conn, ("error", RuntimeError(f"{type(error).__name__}: {error}")))


class TimingWorker:
    """One worker process, started on first use (or :meth:`start`) and reused; thread-safe (one
    task at a time)."""

    def __init__(self, threads: int | None = None, start_timeout_s: float = START_TIMEOUT_S,
                 task_timeout_s: float = TASK_TIMEOUT_S, stop_grace_s: float = STOP_GRACE_S):
        self.threads = threads if threads is not None else default_threads()
        self._start_timeout_s = start_timeout_s
        self._task_timeout_s = task_timeout_s
        self._stop_grace_s = stop_grace_s
        self._lock = threading.RLock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._halt: Connection | None = None
        self._ready = False
        self._number = 0
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The worker's process id (None: not started)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the worker if none is running (returns at once: it imports torch meanwhile)."""
        with self._lock:
            if self._process is not None:
                if self._process.poll() is None:
                    return
                LOG.warning("the timing worker (pid %s) had exited (code %s): starting another", self.pid, self._process.returncode)
                self.restarts += 1
            self._close()
            tasks, halt = socket.socketpair(), socket.socketpair()
            theirs = (tasks[1].fileno(), halt[1].fileno())
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _BOOT, json.dumps(sys.path), *map(str, theirs), str(self.threads)],
                    pass_fds=theirs, stdin=subprocess.DEVNULL)
            finally:
                tasks[1].close()
                halt[1].close()
            self._conn, self._halt = Connection(tasks[0].detach()), Connection(halt[0].detach())
            self._ready = False

    def run(self, task: Task[T], stop: Callable[[], bool] | None = None) -> T:
        """``task.run`` in the worker: its result, ``timing.Interrupted`` once ``stop()`` said so,
        the task's own exception, or :class:`WorkerError` when the worker died or hung (it is
        restarted)."""
        from .timing import Interrupted

        with self._lock:
            self.start()
            assert self._conn is not None
            self._number += 1
            try:
                _send(self._conn, (self._number, task))
                status, value = self._answer(stop)
            except (OSError, EOFError) as exc:  # the pipe broke: the worker is gone
                self._restart()
                raise WorkerError(f"The timing worker stopped ({type(exc).__name__}): it was restarted, and these "
                                  "figures are missing.") from None
            except BaseException:  # stopped while waiting (Ctrl-C): no answer may be left in the pipe
                self._restart()
                raise
        if status == "ok":
            return value
        if status == "error":
            raise value
        if status == "interrupted":
            raise Interrupted("the measurement was stopped before it finished and thrown away")
        raise WorkerError(value)

    def _answer(self, stop: Callable[[], bool] | None) -> tuple[str, Any]:
        """Wait for the task's answer: ``("ok" | "error" | "interrupted", value)``, or ``("gone",
        sentence)`` for a worker that died or hung (restarted here)."""
        assert self._conn is not None and self._halt is not None and self._process is not None
        deadline = time.monotonic() + self._task_timeout_s + (0 if self._ready else self._start_timeout_s)
        stopping = False
        while True:
            if wait([self._conn], POLL_S):
                try:
                    status, value = _receive(self._conn)
                except EOFError:
                    try:
                        code: int | None = self._process.wait(5)
                    except subprocess.TimeoutExpired:  # its socket closed but it lingers: killed below
                        code = None
                    self._restart()
                    return "gone", (f"The timing worker stopped (exit code {code}) before it finished: it was "
                                    "restarted, and these figures are missing.")
                if status != "ready":
                    return status, value
                self._ready = True
                deadline = time.monotonic() + self._task_timeout_s
                continue
            if stop is not None and not stopping and stop():
                _send(self._halt, self._number)
                stopping = True
                deadline = min(deadline, time.monotonic() + self._stop_grace_s)
            if time.monotonic() > deadline:
                self._restart()
                if stopping:
                    return "interrupted", None
                return "gone", (f"The timing worker did not answer within {self._task_timeout_s:g} s: it was "
                                "restarted, and these figures are missing.")

    def _restart(self) -> None:
        LOG.warning("restarting the timing worker (pid %s)", self.pid)
        self.restarts += 1
        self._kill()
        self.start()

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(2)
        self._close()

    def _close(self) -> None:
        for conn in (self._conn, self._halt):
            if conn is not None:
                conn.close()
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(0)  # reap an exited worker
        self._process, self._conn, self._halt, self._ready = None, None, None, False

    def stop(self) -> None:
        """End the worker (a later :meth:`run` starts a new one)."""
        with self._lock:
            self._kill()


_WORKER: TimingWorker | None = None
_WORKER_LOCK = threading.Lock()
_inline = threading.Event()


def timing_worker() -> TimingWorker:
    """This process's one worker (made on first use; stopped when the process exits)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = TimingWorker()
            atexit.register(_WORKER.stop)
        return _WORKER


def prestart() -> None:
    """Start this process's worker now, so it is ready when the first measurement comes."""
    if not _inline.is_set():
        timing_worker().start()


def run(task: Task[T], stop: Callable[[], bool] | None = None) -> T:
    """Run ``task`` in this process's worker (see :meth:`TimingWorker.run`), or here under :func:`inline`."""
    if _inline.is_set():
        return task.run(stop or (lambda: False))
    return timing_worker().run(task, stop)


@contextlib.contextmanager
def inline() -> Iterator[None]:
    """Inside, tasks run in the calling thread (tests that watch the engine in-process)."""
    _inline.set()
    try:
        yield
    finally:
        _inline.clear()
