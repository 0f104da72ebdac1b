"""The README's library examples run as written (a README that shows a wrong import teaches nothing)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(markdown: str, section: str) -> list[str]:
    """The ```python blocks of one ``## section`` of the README."""
    start = markdown.index(f"\n## {section}\n")
    end = markdown.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", markdown[start:end if end > 0 else None], flags=re.S)


@pytest.mark.slow
def test_the_library_examples_run(monkeypatch):
    blocks = python_blocks((ROOT / "README.md").read_text(), "The library")
    assert len(blocks) >= 2
    monkeypatch.chdir(ROOT)  # the examples open assets/ by a relative path
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme_example"})  # noqa: S102 - our own README
    assert os.getcwd() == str(ROOT)
