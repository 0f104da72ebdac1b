"""Serving a class, for real: two replicas behind HAProxy (``spp_viz.deploy.start``), headless Chromium.

- Two tabs on one replica upload at once: with one job at a time, one of them shows the waiting
  line (``waiting_analysis``) until its turn, then both show their own image.
- Eight sessions: each keeps its own image across reruns (affinity holds) and both replicas serve.
- One replica stops while its sessions are open: each of its pages reconnects through the proxy
  to the other replica within 30 s, names that replica, draws a working page and says in one
  line (``upload_lost``) to upload again; the other replica's pages do not rerun.
- Measured alone: three sessions on one server, one taking its measurements while the two others
  upload. The server's admission record (``SPP_VIZ_QUEUE_RECORD``) shows that no analysis ran
  during a measurement, and each upload's photo came before its numbers.

The tests share one deployment and one set of eight sessions, in this order. Small uploads keep
two cores enough; a missing haproxy skips them (fails with ``SPP_VIZ_REQUIRE_HAPROXY=1``).
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from spp_viz import deploy
from spp_viz.deploy import haproxy
from spp_viz.devtools.server import IDLE, free_port

from .conftest import ACTION_TIMEOUT_MS, COLD_TIMEOUT_MS, REQUIRE_BROWSER, VIEWPORT, AppPage

pytestmark = pytest.mark.browser
ASSETS = Path(__file__).resolve().parents[2] / "assets"
SESSIONS = 8
FAILOVER_S = 30
REPLICA = ".st-key-served_by"
LOST = ".st-key-upload_lost"
WAITING = ".st-key-waiting_analysis"
# the explorer once the network's phase has drawn it (phase 0 shows the upload, its name included, before any job)
NETWORK_DRAWN = ".st-key-panel_explorer .spp-explorer[data-phase='1']"
EXPLORER = ".st-key-panel_explorer .spp-explorer"  # keeps the session's run counters as attributes
ROUNDS = 3  # upload rounds for two tabs to contend
CONTENDED_S = 1.5  # a wait this long puts the line on the page (it shows after one poll, 0.5 s) long enough to be seen


@pytest.fixture(scope="module")
def queue_record(tmp_path_factory) -> Path:
    """The file both replicas' admission queues append their events to."""
    return tmp_path_factory.mktemp("deployment") / "record.jsonl"


@pytest.fixture(scope="module")
def deployment(browser, queue_record):
    if haproxy.haproxy_path() is None:
        if REQUIRE_BROWSER or os.environ.get("SPP_VIZ_REQUIRE_HAPROXY") == "1":
            pytest.fail("haproxy is required but not installed", pytrace=False)
        pytest.skip("haproxy is not installed: apt-get install -y haproxy")
    from spp_viz.admission import ENV_RECORD

    ports = [free_port() for _ in range(3)]
    started = deploy.start(2, ports[0], replica_ports=ports[1:], env={"SPP_VIZ_MAX_JOBS": "1", ENV_RECORD: str(queue_record)})
    try:
        yield started
    finally:
        started.stop()


def photo(index: int, side: int) -> tuple[str, bytes]:
    """A distinct small PNG: one of the samples, resized to its own size."""
    samples = sorted(ASSETS.glob("*.jpg"))
    with Image.open(samples[index % len(samples)]) as im:
        small = im.convert("RGB").resize((side + 8 * index, (side * 3) // 4 + 4 * index))
    buf = io.BytesIO()
    small.save(buf, "PNG")
    return f"session{index}_{side}.png", buf.getvalue()


def open_tab(browser, url: str, replica_cookie: str | None = None) -> AppPage:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    if replica_cookie:
        context.add_cookies([{"name": "SERVERID", "value": replica_cookie, "url": url}])
    return AppPage(context.new_page(), url)


def full_runs(app: AppPage) -> str | None:
    """How many times the session's whole page ran (the explorer's ``data-full-runs``)."""
    return app.page.locator(EXPLORER).get_attribute("data-full-runs")


def replica_of(app: AppPage) -> str:
    return app.page.locator(REPLICA).inner_text().strip()


def upload(app: AppPage, name: str, data: bytes) -> None:
    app.upload_image_bytes(name, data, "image/png")


def wait_quiet(app: AppPage, timeout_ms: int = COLD_TIMEOUT_MS, quiet_s: float = 3.0) -> None:
    """Idle for ``quiet_s`` in a row: the page's last run, and the measuring run the browser
    asks for once it has drawn, are both over."""
    deadline = time.monotonic() + timeout_ms / 1000
    since = None
    while time.monotonic() < deadline:
        idle = app.page.locator(IDLE).count() > 0
        since = (since or time.monotonic()) if idle else None
        if since is not None and time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.2)
    line = app.page.evaluate(f"document.querySelector({WAITING!r})?.innerText || 'no waiting line'")
    raise AssertionError(f"the page did not stay idle for {quiet_s} s within {timeout_ms} ms ({line.strip()})")


def contended(record: Path, skip: int, wait_s: float = CONTENDED_S) -> bool:
    """Whether, among the record's events after the first ``skip``, an analysis waited at least
    ``wait_s`` for its slot while another analysis held it: the waiting line's premise."""
    from spp_viz.admission import Step, Work, read_record

    events = [e for e in read_record(str(record))[skip:] if e.work is Work.ANALYSIS] if record.exists() else []
    running: set[int] = set()
    joined: dict[int, tuple[float, bool]] = {}  # ticket -> (when it joined, whether another analysis ran then)
    for event in events:
        if event.step is Step.JOIN:
            joined[event.ticket] = (event.at, bool(running))
        elif event.step is Step.START:
            at, behind = joined.get(event.ticket, (event.at, False))
            if behind and event.at - at >= wait_s:
                return True
            running.add(event.ticket)
        elif event.step in (Step.FINISH, Step.LEAVE):
            running.discard(event.ticket)
    return False


def record_length(record: Path) -> int:
    return len(record.read_text().splitlines()) if record.exists() else 0


def test_one_job_at_a_time_the_second_tab_shows_the_waiting_line(browser, deployment, queue_record):
    """Two tabs upload at once; when the record shows one analysis waited behind the other (a
    loaded machine can deliver the second upload only after the first analysis ended: then the
    round is taken again with new photos), the waiting tab showed the line."""
    tabs = [open_tab(browser, deployment.url, "r2") for _ in range(2)]
    try:
        for tab in tabs:
            tab.open()
        assert replica_of(tabs[0]) == replica_of(tabs[1])  # both on replica 2
        for attempt in range(ROUNDS):
            skip = record_length(queue_record)
            files = [photo(2 * attempt + i, 1200) for i in range(2)]
            shown = upload_both(tabs, files)
            if any(shown):
                break
            assert not contended(queue_record, skip), "an analysis waited behind another, and no tab showed the line"
        assert any(shown), f"in {ROUNDS} rounds the two uploads never waited for each other"
        for tab, (name, _) in zip(tabs, files):
            tab.wait_for_text(name, COLD_TIMEOUT_MS)
            wait_quiet(tab)
            assert tab.page.locator(WAITING).count() == 0  # the line is gone once the page is drawn
            assert not tab.exceptions() and not tab.errors()
    finally:
        for tab in tabs:
            tab.page.context.close()


def upload_both(tabs: list[AppPage], files: list[tuple[str, bytes]]) -> list[bool]:
    """Upload one photo in each tab, then watch both until each has drawn its own photo's network
    phase; which tab showed the waiting line (naming analyses ahead of it) meanwhile."""
    for tab, (name, data) in zip(tabs, files):
        upload(tab, name, data)
    shown = [False] * len(tabs)
    deadline = time.monotonic() + COLD_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and not all(t.main.get_by_text(n).count() and t.page.locator(NETWORK_DRAWN).count()
                                                  for t, (n, _) in zip(tabs, files)):
        for i, tab in enumerate(tabs):  # read in one step: the line may go between a count and a read
            line = tab.page.evaluate(f"document.querySelector({WAITING!r})?.innerText || ''")
            if "ahead of you" in line:
                shown[i] = True
        time.sleep(0.1)
    return shown


def uploader_names(app: AppPage, name: str, within_s: float) -> bool:
    """Whether the image uploader names ``name`` within ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if name in app.page.locator(".st-key-image").inner_text():
            return True
        time.sleep(0.25)
    return False


@dataclass
class Session:
    app: AppPage
    name: str
    replica: str


def shown_or_lost(s: Session) -> None:
    """Wait until the page shows its file, or says that its upload is not on this replica."""
    deadline = time.monotonic() + COLD_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if s.app.main.get_by_text(s.name).count() or s.app.page.locator(LOST).count():
            return
        time.sleep(0.25)
    raise AssertionError(f"{s.name} neither shown nor lost: {page_state(s.app)}")


@pytest.fixture(scope="module")
def sessions(browser, deployment):
    """Eight tabs through the proxy (no cookie: the proxy spreads them), each with its own upload.
    A page whose websocket dropped on the overloaded machine reconnects to a new session without
    its upload and says so (``upload_lost``): it is given its file once more."""
    opened = [open_tab(browser, deployment.url) for _ in range(SESSIONS)]
    out = []
    try:
        for app in opened:
            app.open()
        for i, app in enumerate(opened):
            name, data = photo(i, 96)
            upload(app, name, data)
            out.append(Session(app, name, ""))
        for i, s in enumerate(out):
            if not uploader_names(s.app, s.name, 15):  # the file input was redrawn under Playwright's hand
                upload(s.app, *photo(i, 96))
        for i, s in enumerate(out):
            shown_or_lost(s)
            if s.app.page.locator(LOST).count():  # its websocket dropped and the session was new: once, upload again
                upload(s.app, *photo(i, 96))
                shown_or_lost(s)
            assert s.app.main.get_by_text(s.name).count(), f"{s.name} not shown: {page_state(s.app)}"
            wait_quiet(s.app)
            s.replica = replica_of(s.app)
        yield out
    finally:
        for app in opened:
            app.page.context.close()


def test_eight_sessions_keep_their_own_image_and_both_replicas_serve(deployment, sessions):
    ports = {f"served by replica 127.0.0.1:{r.port}" for r in deployment.replicas}
    assert {s.replica for s in sessions} == ports  # both replicas serve sessions
    for s in sessions:
        s.app.set_levels("1,2")
    for s in sessions:
        s.app.settle(s.name)
        wait_quiet(s.app)
        text = s.app.main.inner_text()
        assert s.name in text and not [o.name for o in sessions if o is not s and o.name in text]
        assert replica_of(s.app) == s.replica  # the rerun went to the same replica
        assert not s.app.exceptions() and not s.app.errors()


def page_state(app: AppPage) -> str:
    """What a page shows now, in one line (for failure messages)."""
    state = app.page.evaluate("() => document.querySelector(\"[data-testid='stApp']\")?.getAttribute('data-test-script-state')")
    caption = app.page.locator(REPLICA).all_inner_texts()
    uploader = app.page.locator(".st-key-image").inner_text().replace("\n", " ")[:80]
    waiting = app.page.locator("[class*='st-key-waiting_']").all_inner_texts()
    return (f"script {state}, caption {caption}, upload line {app.page.locator(LOST).count()}, errors {app.errors()}, "
            f"uploader {uploader!r}, waiting {waiting}")


def moved(app: AppPage, port: int) -> bool:
    """The page is on the replica at ``port`` and says to upload again (its sample's analysis may
    still be running or waiting in that replica's line: the page is loaded afterwards)."""
    return (app.page.locator(LOST).count() > 0
            and replica_of(app) == f"served by replica 127.0.0.1:{port}" if app.page.locator(REPLICA).count() else False)


def test_a_stopped_replicas_pages_reconnect_to_the_other_one_and_ask_for_the_upload_again(deployment, sessions):
    gone_port, kept_port = deployment.replicas[0].port, deployment.replicas[1].port
    gone = [s for s in sessions if s.replica.endswith(f":{gone_port}")]
    kept = [s for s in sessions if s not in gone]
    assert gone and kept
    for s in kept:
        wait_quiet(s.app)
    runs_before = {id(s): full_runs(s.app) for s in kept}
    stopped_at = time.monotonic()
    deployment.stop_replica(1)
    waiting = list(gone)
    while waiting and time.monotonic() - stopped_at < FAILOVER_S:
        waiting = [s for s in waiting if not moved(s.app, kept_port)]
        time.sleep(0.25)
    assert not waiting, [page_state(s.app) for s in waiting]
    for s in gone:  # a working page (the sample), one line about the upload, no error
        s.app.wait_loaded(COLD_TIMEOUT_MS)  # the moved sessions' analyses queue on the one replica left
        assert not s.app.exceptions() and not s.app.errors()
        assert s.app.page.locator(LOST).count() == 1
    for s in kept:  # the surviving replica's sessions did not notice: no rerun, same image, same replica
        assert full_runs(s.app) == runs_before[id(s)]
        assert s.name in s.app.main.inner_text() and replica_of(s.app) == s.replica
        assert s.app.page.locator(LOST).count() == 0


# ----------------------------------------------------------------------------
# Measured alone: the admission queue's record, read from a server driven by three tabs


@pytest.fixture(scope="module")
def recorded_server(browser, tmp_path_factory):
    """One ``streamlit run`` whose admission queue appends every event to a file."""
    import tempfile
    from unittest import mock

    from spp_viz.admission import ENV_RECORD
    from spp_viz.devtools.server import start_app

    record = tmp_path_factory.mktemp("queue") / "record.jsonl"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed at teardown
    with mock.patch.dict(os.environ, {ENV_RECORD: str(record)}):
        server = start_app(log)
    try:
        yield server.url, record
    finally:
        server.stop()
        log.close()


MEASURING = "[class*='st-key-measuring']"


def running_measurement(record: Path) -> bool:
    """A measurement has started and has not finished (nor given its slot back) yet."""
    from spp_viz.admission import Step, Work, read_record

    running: set[int] = set()
    for event in read_record(str(record)) if record.exists() else []:
        if event.work is Work.MEASUREMENT and event.step is Step.START:
            running.add(event.ticket)
        elif event.step in (Step.FINISH, Step.REQUEUE, Step.LEAVE):
            running.discard(event.ticket)
    return bool(running)


def photo_then_numbers(app: AppPage, name: str, timeout_s: float = COLD_TIMEOUT_MS / 1000) -> tuple[float, float]:
    """(when the page showed ``name``, when no "measuring" note was left after that), polled."""
    deadline, shown = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if shown is None and app.main.get_by_text(name).count():
            shown = time.monotonic()
        if shown is not None and app.page.locator(MEASURING).count() == 0 and app.page.locator(IDLE).count():
            return shown, time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"{name}: photo shown at {shown}, numbers not within {timeout_s:.0f} s: {page_state(app)}")


def test_a_measurement_runs_alone_while_two_other_sessions_upload(browser, recorded_server):
    from spp_viz.admission import Step, Work, read_record, record_problems

    url, record = recorded_server
    tabs = [open_tab(browser, url) for _ in range(3)]
    try:
        for tab in tabs:
            tab.open()
            wait_quiet(tab)
        measuring, uploaders = tabs[0], tabs[1:]
        box = measuring.page.locator(".st-key-heads input")  # a heavier head: a longer measurement to upload into
        box.click()
        box.fill("aspp")
        box.press("Enter")
        box.press("Escape")
        measuring.wait_idle(expect_rerun=True)
        wait_quiet(measuring)
        mine = photo(0, 1000)
        upload(measuring, *mine)
        measuring.wait_for_text(mine[0], COLD_TIMEOUT_MS)
        deadline = time.monotonic() + COLD_TIMEOUT_MS / 1000
        while not running_measurement(record) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert running_measurement(record), "the measuring tab's second phase never started"
        files = [photo(i, 700) for i in (1, 2)]
        for tab, (name, data) in zip(uploaders, files):  # while the stopwatch runs
            upload(tab, name, data)
        times = [photo_then_numbers(tab, name) for tab, (name, _) in zip(uploaders, files)]
        photo_then_numbers(measuring, mine[0])
        for tab in tabs:
            wait_quiet(tab)
            assert not tab.exceptions() and not tab.errors()
    finally:
        for tab in tabs:
            tab.page.context.close()
    events = read_record(str(record))
    assert record_problems(events) == []  # no analysis of any session ran during a measurement
    assert all(shown <= numbers for shown, numbers in times)  # each upload's photo came before its numbers
    # from the record too: every session's measurement started only after its own analysis had finished
    for session in {e.session for e in events}:
        own = [e for e in events if e.session == session and e.step in (Step.START, Step.FINISH)]
        for before, after in zip(own, own[1:]):
            if after.step is Step.START and after.work is Work.MEASUREMENT:
                assert not (before.step is Step.START and before.work is Work.ANALYSIS), (session, before, after)
    # an analysis that arrived while a measurement ran interrupted it before it started itself
    # (a measurement an earlier analysis already interrupted is not interrupted twice)
    running: dict[int, Work] = {}
    interrupted: set[int] = set()
    for i, event in enumerate(events):
        if event.step is Step.START:
            running[event.ticket] = event.work
        elif event.step in (Step.FINISH, Step.REQUEUE, Step.LEAVE):
            running.pop(event.ticket, None)
            interrupted.discard(event.ticket)
        elif event.step is Step.INTERRUPT:
            interrupted.add(event.ticket)
        if event.step is Step.JOIN and event.work is Work.ANALYSIS:
            for ticket in [t for t, w in running.items() if w is Work.MEASUREMENT and t not in interrupted]:
                later = events[i + 1:]
                start = next((j for j, e in enumerate(later) if e.ticket == event.ticket and e.step is Step.START), len(later))
                assert any(e.ticket == ticket and e.step is Step.INTERRUPT for e in later[:start]), (event, ticket)
