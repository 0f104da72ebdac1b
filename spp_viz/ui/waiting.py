"""Heavy work waits for a slot of the process's admission queue, and the page says so in one line.

:func:`admission_scope` wraps one piece of page flow (the page model, the ERF, the scales, a
region): it places an empty slot on the page and holds at most one admission for everything
inside it. :func:`heavy` decorates the functions that do heavy work, and :func:`cached_heavy` the
cached ones in ``caches`` and ``views``: a cache miss asks for the scope's admission once, and while it waits
the slot shows :func:`spp_viz.figures.text.waiting_line`, updated twice a second. A miss waits
for its slot before it takes the cache's lock for that value, never inside it: a session that
holds a slot (its analysis and the page drawn from it) may need the same value, and would
otherwise wait on a lock whose holder waits for that session's slot. Each update is also the
point where Streamlit delivers a rerun (the user changed a widget: the session's place in line
takes the new request) or a stop. A cache hit waits for nothing. Heavy work outside any scope
waits without a line.

The limit: ``SPP_VIZ_MAX_JOBS``, else ``max_jobs`` in the ``[spp_viz]`` table of
``.streamlit/secrets.toml`` (Streamlit refuses unknown keys in ``config.toml``), else
:func:`spp_viz.admission.default_max_jobs`. A closed tab's waiting job is dropped: its session is
no longer active in Streamlit's runtime.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import streamlit as st

from .. import admission
from ..admission import Position, Work
from ..figures import text
from ..timing import Interrupted
from .streamlit_private import StopException, not_recorded, run_session_id, session_active

POLL_S = 0.5  # how often a waiting page updates its line (and notices a rerun)
LOCAL_PREFIX = "local:"  # work outside a Streamlit session (a benchmark thread): always alive
SECRETS_TABLE = "spp_viz"
WAITING_KEY_PREFIX = "waiting_"  # the line's container key: waiting_<scope name>
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
_local = threading.local()


@dataclass
class _Scope:
    name: str
    slot: Any  # st.empty(): where the line goes
    follow_up: bool = False  # its job continues the session's last one (see admission.AdmissionQueue.join)
    work: Work = Work.ANALYSIS
    ticket: int | None = None
    line: Any = None  # the inner st.empty() inside the keyed container, once shown


def session_alive(session: str) -> bool:
    """False once Streamlit no longer has this session (the tab was closed or lost its connection)."""
    return session.startswith(LOCAL_PREFIX) or session_active(session)


def secrets_max_jobs() -> Any:
    """``[spp_viz] max_jobs`` from ``.streamlit/secrets.toml``, or None (no file, no table)."""
    try:
        table = st.secrets.get(SECRETS_TABLE) if st.secrets.load_if_toml_exists() else None
    except Exception:  # a malformed secrets file is Streamlit's to report
        return None
    return table.get("max_jobs") if table is not None else None


def queue() -> admission.AdmissionQueue:
    return admission.process_queue(lambda: admission.configured_max_jobs(configured=secrets_max_jobs()), session_alive)


def session_id() -> str:
    return run_session_id() or f"{LOCAL_PREFIX}{threading.get_ident()}"


@contextlib.contextmanager
def admission_scope(name: str, follow_up: bool = False, work: Work = Work.ANALYSIS) -> Iterator[None]:
    """Heavy work inside holds one admission of class ``work`` (taken on the first cache miss,
    given back at the end). ``follow_up``: the work continues the session's last job (the second
    phase of the page that job made) and keeps that job's place in line."""
    if getattr(_local, "scope", None) is not None:
        yield
        return
    scope = _local.scope = _Scope(name, st.empty(), follow_up, work)
    try:
        yield
    finally:
        _local.scope = None
        if scope.ticket is not None:
            queue().finish(scope.ticket)
        if scope.line is not None:
            with contextlib.suppress(Exception):
                scope.slot.empty()


class _Miss(Exception):
    """Raised by a cached heavy function's body when called only to learn whether it is cached."""


def cached_heavy(kind: str, **options: Any) -> Callable[[F], F]:
    """``st.cache_resource(**options)`` for heavy work: a hit returns at once, without a slot; a
    miss (learned by a call whose body raises before computing, which Streamlit does not cache)
    waits for a slot outside the cache's lock, then calls again, which computes or finds the
    value another session computed meanwhile."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def body(*args: Any, **kwargs: Any) -> Any:
            if getattr(_local, "probing", False):
                raise _Miss
            with admitted(kind):  # already held by this caller: it waited before the cache's lock
                return fn(*args, **kwargs)

        cached = st.cache_resource(show_spinner=False, **options)(body)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            _local.probing = True
            try:
                return cached(*args, **kwargs)
            except _Miss:
                pass
            finally:
                _local.probing = False
            with admitted(kind):
                return cached(*args, **kwargs)
        return run  # type: ignore[return-value]
    return wrap


def heavy(kind: str) -> Callable[[F], F]:
    """Decorator: ``fn`` runs only once this session holds an admission (see :func:`admitted`)."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with admitted(kind):
                return fn(*args, **kwargs)
        return run  # type: ignore[return-value]
    return wrap


def alone(kind: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorator for a measurement: ``fn(*args, stop=...)`` runs holding the process alone (a
    :data:`Work.MEASUREMENT` admission). An analysis that arrives meanwhile makes ``stop()`` true:
    ``fn`` raises ``timing.Interrupted``, its samples are thrown away, it gives its slot back and
    waits in its place, and it runs again from the start once the process is quiet."""
    def wrap(fn: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> R:
            jobs = queue()
            while True:
                with admitted(kind, Work.MEASUREMENT) as ticket:
                    try:
                        return fn(*args, stop=lambda: jobs.interrupted(ticket), **kwargs)
                    except Interrupted:
                        jobs.requeue(ticket)
        return run
    return wrap


@contextlib.contextmanager
def admitted(kind: str, work: Work | None = None) -> Iterator[int]:
    """Wait for a slot (showing the line when inside a scope), run, and give the slot back; yields
    the ticket. Inside a scope the class is the scope's (``work`` outside one, analysis by default);
    a scope's measurement that gave its slot back (:meth:`AdmissionQueue.requeue`) waits again in
    its place."""
    scope: _Scope | None = getattr(_local, "scope", None)
    jobs = queue()
    if scope is not None and scope.ticket is not None:
        if not jobs.running(scope.ticket):
            _wait_or_leave(jobs, scope.ticket, scope)
            hide_line(scope)
        yield scope.ticket  # this session holds the scope's slot
        return
    held: int | None = getattr(_local, "holding", None)
    if held is not None:
        yield held
        return
    work = scope.work if scope is not None else (work or Work.ANALYSIS)
    ticket = jobs.join(session_id(), kind, follow_up=scope is not None and scope.follow_up, work=work)
    _wait_or_leave(jobs, ticket, scope)
    if scope is not None:
        scope.ticket = ticket  # the scope gives it back, even if a rerun lands on the next line
        hide_line(scope)
        yield ticket
        return
    _local.holding = ticket
    try:
        yield ticket
    finally:
        _local.holding = None
        jobs.finish(ticket)


def _wait_or_leave(jobs: admission.AdmissionQueue, ticket: int, scope: _Scope | None) -> None:
    try:
        _wait(jobs, ticket, scope)
    except BaseException:  # a rerun, a stop: the place stays reserved for the next request
        jobs.leave(ticket)
        raise


def _wait(jobs: admission.AdmissionQueue, ticket: int, scope: _Scope | None) -> None:
    """Block until the job has started, updating the scope's line meanwhile. Every page update
    is a point where Streamlit may raise a rerun or a stop; none comes after the job started, so
    the caller always learns of the start before anything can interrupt it."""
    started = time.monotonic()
    while not jobs.wait(ticket, POLL_S):
        if jobs.replaced(ticket):  # this run was stopped and the session's next one took its place
            raise StopException()
        position = jobs.position(ticket)
        if scope is not None and position is not None:
            show_waiting(scope, position, int(time.monotonic() - started))


def hide_line(scope: _Scope) -> None:
    if scope.line is not None:
        with not_recorded():
            scope.line.empty()


def show_waiting(scope: _Scope, position: Position, waited_s: int) -> None:
    """The one updating line (in the scope's slot, under the key ``waiting_<scope name>``): which
    of the two the user waits for, and what is ahead."""
    with not_recorded():
        if scope.line is None:
            with scope.slot.container(key=f"{WAITING_KEY_PREFIX}{scope.name}"):
                scope.line = st.empty()
        scope.line.info(text.waiting_line(position, waited_s), icon="⏳")
