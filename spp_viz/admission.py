"""Admission: at most ``max_jobs`` heavy jobs at once in one process, first come, first served.

Heavy work (a backbone forward, latency measurements, an ERF, the scales, a region's crop and
rerun) asks :class:`AdmissionQueue` for a slot before it starts. Each session holds at most one
place in line, kept in arrival order:

- a session that asks again while it waits (it changed its request) takes over its own place:
  the new request replaces the old one and keeps its position (the old ticket is replaced);
- a place whose waiter left (a rerun interrupted the wait) stays reserved for that session for
  ``grace_s``; it never blocks the sessions behind it;
- a place whose session is gone (``alive(session)`` is False: the tab was closed) is dropped;
- a request's follow-up (``join(..., follow_up=True)``: the measurements the browser asks for once
  it has drawn the page the session's last job made) keeps that job's place in the arrival
  order, once, within ``follow_up_s`` of its end: it goes before everyone who arrived after that
  job did. First come, first served is then per request (an upload and its numbers), and the
  slot is free for others while the browser draws.

Slots go to the first present waiters in arrival order. :meth:`AdmissionQueue.ahead` is what a
waiting page shows: the jobs running plus the present waiters before this one. The process-wide
queue (:func:`process_queue`) takes its limit from ``SPP_VIZ_MAX_JOBS`` or, when unset, from
:func:`default_max_jobs` (usable cores divided by torch's threads, at least 2 where there are
2 cores).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

ENV_MAX_JOBS = "SPP_VIZ_MAX_JOBS"
REJOIN_GRACE_S = 10.0  # how long a session's place waits for it after a rerun interrupted its wait
FOLLOW_UP_S = 60.0  # how long after a job ends its follow-up keeps the job's place in the arrival order
LOG = logging.getLogger("spp_viz.admission")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_max_jobs(cores: int | None = None, threads: int | None = None) -> int:
    """Usable cores // torch's intra-op threads, but at least 2 where there are 2 cores (1 on one).

    Each job would have its threads' cores, but much of a job is one Python thread (drawing the
    page, building figures, small pooling ops): one slot on 2 cores leaves the second core idle
    through those parts. ``python -m benchmarks --only sessions`` measures both choices side by
    side (row 10 of benchmarks/README.md)."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    cores = cores if cores is not None else usable_cores()
    return min(cores, max(2, cores // max(1, threads)))


def parse_max_jobs(value: str | int | None) -> int | None:
    """A positive job limit from configuration, or None when it is unset; one sentence otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        jobs = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"The job limit must be a positive whole number, got {value!r}.") from None
    if jobs < 1:
        raise ValueError(f"The job limit must be a positive whole number, got {jobs}.")
    return jobs


def configured_max_jobs(env: dict[str, str] | None = None, configured: str | int | None = None) -> int:
    """``SPP_VIZ_MAX_JOBS``, else ``configured`` (e.g. the app's secrets), else the default.
    A bad value is logged in one line and the next source is used."""
    for source, value in ((ENV_MAX_JOBS, (os.environ if env is None else env).get(ENV_MAX_JOBS)), ("configuration", configured)):
        try:
            jobs = parse_max_jobs(value)
        except ValueError as exc:
            LOG.warning("%s ignored: %s", source, exc)
            continue
        if jobs is not None:
            return jobs
    return default_max_jobs()


@dataclass
class _Place:
    """One session's place in line."""

    session: str
    ticket: int
    kind: str
    order: int  # place in the arrival order: its first ticket, or the ticket of the job it follows up
    follows: bool = False  # it follows up an earlier job (and cannot be followed up in turn)
    present: bool = True  # a thread is waiting on it
    left_at: float = 0.0  # when its waiter left (present False)


@dataclass(frozen=True)
class QueueState:
    """A snapshot: running jobs' sessions, and the waiting sessions in order (present or not)."""

    running: tuple[str, ...]
    waiting: tuple[str, ...]
    kinds: dict[str, str] = field(default_factory=dict)  # waiting session -> its current request


class AdmissionQueue:
    """A bounded, fair line for heavy jobs. Thread-safe; every method is short and never blocks
    except :meth:`wait`."""

    def __init__(self, max_jobs: int, alive: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic, grace_s: float = REJOIN_GRACE_S,
                 follow_up_s: float = FOLLOW_UP_S):
        self.max_jobs = max(1, int(max_jobs))
        self._alive = alive or (lambda session: True)
        self._clock = clock
        self._grace_s = grace_s
        self._follow_up_s = follow_up_s
        self._lock = threading.Condition()
        self._line: list[_Place] = []  # in arrival order (``order``)
        self._running: dict[int, _Place] = {}  # ticket -> the place it started from
        self._ended: dict[str, tuple[int, float]] = {}  # session -> (order, end time) of its last finished job
        self._next = 0

    def join(self, session: str, kind: str, follow_up: bool = False) -> int:
        """A new ticket for this request. A session already in line keeps its place: the new
        ticket takes it over, and an older ticket of the session still waiting is
        :meth:`replaced` (Streamlit can start a session's next run before the stopped one has
        left its wait: that one's ``leave`` must not touch the new request's place).
        ``follow_up``: this request continues the session's last finished job, and takes that
        job's place in the arrival order (once, within ``follow_up_s`` of its end; a follow-up
        is never followed up in turn, so no chain keeps an old place)."""
        with self._lock:
            self._next += 1
            for place in self._line:
                if place.session == session:
                    place.ticket, place.kind, place.present = self._next, kind, True
                    self._lock.notify_all()
                    return self._next
            order = self._follow_up_order(session) if follow_up else self._next
            place = _Place(session, self._next, kind, order, follows=order != self._next)
            at = next((i for i, other in enumerate(self._line) if other.order > order), len(self._line))
            self._line.insert(at, place)
            self._lock.notify_all()
            return self._next

    def _follow_up_order(self, session: str) -> int:
        ended = self._ended.pop(session, None)
        if ended is None or self._clock() - ended[1] > self._follow_up_s:
            return self._next
        return ended[0]

    def replaced(self, ticket: int) -> bool:
        """True when this ticket neither waits nor runs any more: a newer request of its session
        took its place, or its session is gone. Its waiter should stop waiting."""
        with self._lock:
            self._purge()
            return ticket not in self._running and all(place.ticket != ticket for place in self._line)

    def try_start(self, ticket: int) -> bool:
        """Start the job now if a slot is free for it in arrival order (True), else keep it waiting."""
        with self._lock:
            return self._try_start(ticket)

    def wait(self, ticket: int, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` for a slot; True once the job has started."""
        with self._lock:
            if self._try_start(ticket):
                return True
            self._lock.wait(timeout_s)
            return self._try_start(ticket)

    def ahead(self, ticket: int) -> int:
        """Jobs before this one: those running plus the present waiters ahead of it in line."""
        with self._lock:
            self._purge()
            before = 0
            for place in self._line:
                if place.ticket == ticket:
                    return len(self._running) + before
                before += place.present
            return 0

    def leave(self, ticket: int) -> None:
        """The waiter stopped waiting (a rerun or stop): keep the place for the session's next
        request. A job that had started meanwhile gives its slot back (it will never run)."""
        with self._lock:
            self._running.pop(ticket, None)
            for place in self._line:
                if place.ticket == ticket:
                    place.present, place.left_at = False, self._clock()
            self._lock.notify_all()

    def finish(self, ticket: int) -> None:
        """A running job ended (normally or not): its slot goes to the next in line, and its place
        in the arrival order is kept for the session's follow-up."""
        with self._lock:
            place = self._running.pop(ticket, None)
            if place is not None and not place.follows:
                self._ended[place.session] = (place.order, self._clock())
            self._lock.notify_all()

    def state(self) -> QueueState:
        with self._lock:
            self._purge()
            return QueueState(tuple(p.session for p in self._running.values()), tuple(p.session for p in self._line),
                              {p.session: p.kind for p in self._line})

    # -- under the lock

    def _purge(self) -> None:
        """Drop the places of closed sessions and of waiters that did not come back in time."""
        now = self._clock()
        kept = [p for p in self._line if self._alive(p.session) and (p.present or now - p.left_at < self._grace_s)]
        self._ended = {session: ended for session, ended in self._ended.items() if now - ended[1] <= self._follow_up_s}
        if len(kept) != len(self._line):
            self._line = kept
            self._lock.notify_all()

    def _try_start(self, ticket: int) -> bool:
        if ticket in self._running:
            return True
        self._purge()
        free = self.max_jobs - len(self._running)
        for place in (p for p in self._line if p.present):
            if free <= 0:
                return False
            if place.ticket == ticket:
                self._line.remove(place)
                self._running[ticket] = place
                return True
            free -= 1
        return False


_PROCESS_QUEUE: AdmissionQueue | None = None
_PROCESS_LOCK = threading.Lock()


def process_queue(max_jobs: Callable[[], int], alive: Callable[[str], bool] | None = None) -> AdmissionQueue:
    """The one queue of this process, made on first use with ``max_jobs()`` slots."""
    global _PROCESS_QUEUE
    with _PROCESS_LOCK:
        if _PROCESS_QUEUE is None:
            _PROCESS_QUEUE = AdmissionQueue(max_jobs(), alive)
        return _PROCESS_QUEUE
