"""The timing worker (``spp_viz.worker``): a process of its own with a fixed thread count, given
what it times; it can be stopped, and a worker that dies or hangs is restarted while the caller
learns that the figures are missing (never a part of a run)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import torch
from worker_tasks import Exit, Fails, Hang, UntilStopped, WhereAmI

from spp_viz import worker
from spp_viz.timing import Interrupted
from spp_viz.worker import TimingWorker, WorkerError


@pytest.fixture(scope="module")
def timer() -> Iterator[TimingWorker]:
    """One worker for these tests, with one thread and a short hang limit."""
    made = TimingWorker(threads=1, task_timeout_s=4.0, stop_grace_s=2.0)
    try:
        yield made
    finally:
        made.stop()


def test_the_worker_is_another_process_with_a_fixed_thread_count_and_is_reused(timer):
    pid, threads = timer.run(WhereAmI())
    assert pid != os.getpid() and pid == timer.pid and threads == 1
    assert timer.run(WhereAmI())[0] == pid  # started once, reused


def test_a_task_that_fails_raises_its_own_error_and_keeps_the_worker(timer):
    pid = timer.run(WhereAmI())[0]
    with pytest.raises(ValueError, match="bad map"):
        timer.run(Fails("bad map"))
    assert timer.run(WhereAmI())[0] == pid


def test_a_stopped_task_raises_interrupted_and_keeps_the_worker(timer):
    pid = timer.run(WhereAmI())[0]
    asked = time.monotonic() + 0.3
    with pytest.raises(Interrupted):
        timer.run(UntilStopped(), stop=lambda: time.monotonic() > asked)
    assert timer.run(WhereAmI())[0] == pid  # it said it stopped: no restart


def test_a_dead_worker_is_restarted_and_the_figures_are_missing(timer):
    pid, restarts = timer.run(WhereAmI())[0], timer.restarts
    with pytest.raises(WorkerError, match="exit code 3.*figures are missing"):
        timer.run(Exit(3))
    assert timer.restarts == restarts + 1
    new_pid, threads = timer.run(WhereAmI())
    assert new_pid != pid and threads == 1  # a new worker, with the same fixed thread count


def test_a_hung_worker_is_killed_and_restarted(timer):
    pid = timer.run(WhereAmI())[0]
    started = time.monotonic()
    with pytest.raises(WorkerError, match="did not answer within 4 s"):
        timer.run(Hang())
    assert time.monotonic() - started < 30
    assert timer.run(WhereAmI())[0] != pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the hung one is gone


def test_a_worker_that_died_while_idle_is_replaced(timer):
    """Killed between two tasks: the next task either finds it gone and starts another at once, or
    (its death not noticed yet) says the figures are missing; the task after that runs, in a new
    worker, restarted once."""
    pid, restarts = timer.run(WhereAmI())[0], timer.restarts
    os.kill(pid, 9)
    try:
        new = timer.run(WhereAmI())[0]
    except WorkerError as exc:
        assert "figures are missing" in str(exc)
        new = timer.run(WhereAmI())[0]
    assert new != pid and timer.restarts == restarts + 1


def test_inline_runs_tasks_in_this_process():
    with worker.inline():
        assert worker.run(WhereAmI()) == (os.getpid(), torch.get_num_threads())


@pytest.mark.parametrize("cores, torch_threads, expected", [
    (2, 2, 1),  # this machine: one core left to the server and the browser
    (1, 1, 1),  # never fewer than one
    (8, 8, 7),
    (16, 4, 4),  # torch's own count when that is lower
])
def test_the_worker_leaves_one_core_to_the_others(monkeypatch, cores, torch_threads, expected):
    monkeypatch.delenv(worker.ENV_THREADS, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: torch_threads)
    assert worker.default_threads() == expected


def test_the_environment_sets_the_workers_threads(monkeypatch):
    monkeypatch.setenv(worker.ENV_THREADS, "3")
    assert worker.default_threads() == 3
