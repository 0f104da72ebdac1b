"""Nothing a user uploads is written to disk.

One app session (streamlit.testing AppTest) uploads a photo, changes the levels, uploads a bad
file, a malicious, a wrong and a valid checkpoint, then a YOLO detector's checkpoint and a
malicious one. Two independent checks:

* the repository tree (minus caches) and ``tempfile.gettempdir()`` gain no new entries during
  the session. The temp folder is a private, empty one for the session (``tempfile.tempdir`` and
  ``$TMPDIR``), so other processes on a shared machine writing to /tmp cannot make this flaky;
* a Python audit hook sees no file opened for writing, created, renamed or removed by this
  process while the session runs (``/dev/*`` aside).

Imports and a first run on the sample photo happen BEFORE the snapshot: importing torchvision
makes torch create its inductor cache folder (``$TMPDIR/torchinductor_$USER``) once per
machine, which is an import side effect, not the app storing an upload.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import hostile_files as hf
import pytest
from yolo_files import detector_pickle, gadgets, raw_checkpoint

from spp_viz.devtools.detector_files import make_checkpoint

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".pytest_cache", ".hypothesis", "__pycache__", "artifacts", ".ruff_cache", ".mypy_cache"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
FS_EVENTS = {
    "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "os.link", "os.symlink",
    "shutil.copyfile", "shutil.copytree", "shutil.move", "tempfile.mkstemp", "tempfile.mkdtemp",
}


def _repo_files() -> set[str]:
    found: set[str] = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found.update(os.path.relpath(os.path.join(root, f), REPO) for f in files)
        found.update(os.path.relpath(os.path.join(root, d), REPO) + "/" for d in dirs)
    return found


def _tmp_entries() -> set[str]:
    return set(os.listdir(tempfile.gettempdir()))


class _WriteRecorder:
    """A sys audit hook (it cannot be removed, so it is switched on and off)."""

    installed: _WriteRecorder | None = None

    def __init__(self) -> None:
        self.active = False
        self.events: list[tuple] = []

    @classmethod
    def get(cls) -> _WriteRecorder:
        if cls.installed is None:
            cls.installed = cls()
            sys.addaudithook(cls.installed._hook)
        return cls.installed

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int) or str(path).startswith("/dev/"):
                return
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and bool(flags & WRITE_FLAGS)
            )
            if writes:
                self.events.append((event, str(path), mode, flags))
        elif event in FS_EVENTS:
            self.events.append((event, *map(str, args)))


def _valid_checkpoint() -> bytes:
    import torch

    from spp_viz import efficientnet_lite

    buffer = io.BytesIO()
    torch.save(efficientnet_lite.load_packaged_state_dict(), buffer)
    return buffer.getvalue()


def test_an_app_session_writes_nothing_to_disk(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    assert tempfile.gettempdir() == str(private_tmp)
    recorder = _WriteRecorder.get()
    good_ckpt = _valid_checkpoint()
    pwned = REPO / "pwned_by_checkpoint.txt"
    evil_ckpt = hf.malicious_checkpoint(str(pwned))
    yolo_ckpt = make_checkpoint("yolov8n").data
    evil_yolo = raw_checkpoint(detector_pickle(gadgets(str(pwned))["os.system"][0]))
    photo = hf.cat_jpeg((517, 333))

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.run()  # warm-up on the sample photo: imports done, model loaded
    assert not at.exception

    repo_before, tmp_before = _repo_files(), _tmp_entries()
    recorder.events.clear()
    recorder.active = True
    try:
        at.file_uploader(key="image").set_value(("photo.jpg", photo, "image/jpeg"))
        at.run()
        assert "Original 517 x 333" in "\n".join(m.value for m in at.markdown)
        at.text_input(key="levels").set_value("1,2,3")
        at.run()
        assert not at.error
        at.file_uploader(key="image").set_value(("bad.png", b"not an image", "image/png"))
        at.run()
        assert len(at.error) == 1
        at.file_uploader(key="image").set_value(("photo.jpg", photo, "image/jpeg"))
        at.file_uploader(key="checkpoint").set_value(("evil.pt", evil_ckpt, "application/octet-stream"))
        at.run()
        assert len(at.error) == 1 and "refused" in at.error[0].value
        at.file_uploader(key="checkpoint").set_value(("wrong.pt", hf.wrong_architecture_checkpoint(), "application/octet-stream"))
        at.run()
        assert len(at.error) == 1 and "does not fit" in at.error[0].value
        at.file_uploader(key="checkpoint").set_value(("lite0.pt", good_ckpt, "application/octet-stream"))
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert "Pyramid explorer: bins on the image, feature map, pooled activations" in [h.value for h in at.header]
        at.file_uploader(key="checkpoint").set_value(("yolov8n.pt", yolo_ckpt, "application/octet-stream"))
        at.run()
        assert not at.exception and not at.error and at.selectbox(key="backbone").value == "yolo"
        at.file_uploader(key="checkpoint").set_value(("evil_yolo.pt", evil_yolo, "application/octet-stream"))
        at.run()
        assert len(at.error) == 1 and "os.system" in at.error[0].value.replace("\\", "")
    finally:
        recorder.active = False

    new_repo = sorted(_repo_files() - repo_before)
    new_tmp = sorted(_tmp_entries() - tmp_before)
    assert not pwned.exists()
    assert new_repo == [], f"new files in the repository during the session: {new_repo}"
    assert new_tmp == [], f"new entries in {tempfile.gettempdir()} during the session: {new_tmp}"
    assert recorder.events == [], f"file-system writes during the session: {recorder.events}"


@pytest.mark.parametrize("mode", ["w", "ab", "r+"])
def test_the_write_recorder_sees_writes(tmp_path, mode: str) -> None:
    """The audit hook above is not blind (guards against a check that always passes)."""
    recorder = _WriteRecorder.get()
    path = tmp_path / "probe.txt"
    path.write_text("x")
    recorder.events.clear()
    recorder.active = True
    try:
        with open(path, mode):
            pass
    finally:
        recorder.active = False
    assert any(e[0] == "open" and e[1] == str(path) for e in recorder.events), recorder.events
