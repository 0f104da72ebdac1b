"""The page's translations: the catalogue is complete, matches the source, keeps every
placeholder; the active language is one run's and English where nothing set it (the CLI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from spp_viz import i18n
from spp_viz.choices import Language
from spp_viz.i18n import _, language, ngettext, number, percent, speaking
from spp_viz.ui.explorer.words import EXPLORER_WORDS

REPO = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# what must survive translation, entry by entry: str.format fields, plotly's %{...}, %-formats,
# HTML tags and Markdown's bold and code marks
BRACE = re.compile(r"(?<!\{)\{(\w*)(?:[:!][^{}]*)?\}(?!\})")
PLOTLY = re.compile(r"%\{[^}]*\}")
PERCENT = re.compile(r"%(?:\(\w+\))?[-#0 +]?\d*(?:\.\d+)?[sdifgeEx]")
TAG = re.compile(r"</?\w+[^>]*>")


def catalogue(lang: Language = Language.ZH):
    with i18n.catalogue_path(lang).open("rb") as po:
        return read_po(po, locale=i18n.CATALOGUES[lang], domain=i18n.DOMAIN)


def template():
    with (i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot").open("rb") as pot:
        return read_po(pot)


def source_messages() -> set[str]:
    """Every message the source marks, extracted now as ``pybabel extract -F babel.cfg`` does."""
    found = extract_from_dir(str(REPO), method_map=[("spp_viz/**.py", "python")], keywords=KEYWORDS)
    messages: set[str] = set()
    for _filename, _lineno, message, _comments, _context in found:
        messages.update(message if isinstance(message, tuple) else (message,))
    return {m for m in messages if m}


def ids(catalog) -> set[str]:
    out: set[str] = set()
    for message in catalog:
        if message.id:
            out.update(message.id if isinstance(message.id, tuple) else (message.id,))
    return out


def marks(text: str) -> Counter:
    """The parts of a message a translation must keep, each as often as the message has it."""
    fields = [f"{{{m}}}" for m in BRACE.findall(text.replace("{{", "").replace("}}", ""))]
    return Counter(fields + PLOTLY.findall(text) + PERCENT.findall(text) + TAG.findall(text)
                   + ["**"] * (text.count("**") // 2 * 2) + ["`"] * (text.count("`") // 2 * 2))


def test_every_message_has_a_chinese_translation():
    entries = [m for m in catalogue() if m.id]
    assert len(entries) > 300
    empty = [m.id for m in entries if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert not empty, empty[:10]
    assert not fuzzy, fuzzy[:10]
    assert not catalogue().obsolete, list(catalogue().obsolete)[:10]


def test_placeholders_match_entry_by_entry():
    wrong = []
    for m in catalogue():
        if not m.id:
            continue
        pairs = zip(m.id, m.string) if isinstance(m.id, tuple) else [(m.id, m.string)]
        wrong += [(source, translated) for source, translated in pairs if marks(source) != marks(translated)]
    assert not wrong, wrong[:5]


def test_the_check_finds_a_lost_placeholder():
    assert marks("level {n}: {rows} × {cols} bins") != marks("第{n}层：{rows} × 分箱")
    assert marks("input %{x}<br>SPP length %{y:,}") != marks("输入 %{x}<br>SPP 长度")
    assert marks("**Selected: level {n}**") == marks("**已选中：第 {n} 层**")


def test_the_catalogue_is_up_to_date_with_the_source():
    """Extracting again gives the template's messages, and the catalogue holds exactly those."""
    source = source_messages()
    assert ids(template()) == source, (sorted(source - ids(template()))[:10], sorted(ids(template()) - source)[:10])
    assert ids(catalogue()) == source


def test_the_explorer_words_are_extracted_and_translated():
    assert set(EXPLORER_WORDS.values()) <= ids(catalogue())
    with speaking(Language.ZH):
        assert all(_(w) != w for w in EXPLORER_WORDS.values() if re.search(r"[a-z]{3}", w))


def test_english_unless_a_run_sets_a_language():
    assert language() is Language.EN and _("Output dimensions") == "Output dimensions"
    with speaking(Language.ZH):
        assert _("Output dimensions") == "输出维度"
        assert _("a message no catalogue has") == "a message no catalogue has"
        seen = []
        thread = threading.Thread(target=lambda: seen.append((language(), _("Output dimensions"))))
        thread.start()
        thread.join()
        assert seen == [(Language.EN, "Output dimensions")]  # another thread (another session's run) is not this one
    assert _("Output dimensions") == "Output dimensions"


def test_plural_forms_and_numbers_follow_the_locale():
    assert [ngettext("{n} thread", "{n} threads", n) for n in (1, 2)] == ["{n} thread", "{n} threads"]
    assert number(1280) == "1,280" and percent(0.125, 1) == "12.5%"
    with speaking(Language.ZH):
        assert ngettext("{n} thread", "{n} threads", 1) == ngettext("{n} thread", "{n} threads", 7) == "{n} 个线程"
        assert number(1234567.891, 2) == "1,234,567.89" and percent(0.5) == "50%"


@pytest.mark.parametrize("lang", list(Language))
def test_every_language_but_english_has_a_catalogue(lang):
    assert lang is Language.EN or i18n.catalogue_path(lang).is_file()
    assert lang in i18n.HTML_LANG and lang in i18n.BABEL_LOCALES


def test_the_cli_stays_english():
    """The CLI never sets a language: its help and its errors are English, with no CJK character."""
    env = {**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN", "LC_ALL": "zh_CN.UTF-8"}  # a Chinese shell changes nothing
    run = subprocess.run([sys.executable, "-m", "spp_viz", "inspect", "--help"], capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=120)
    bad = subprocess.run([sys.executable, "-m", "spp_viz", "inspect", "--levels", "0"], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=120)
    cjk = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
    assert run.returncode == 0 and "usage" in run.stdout and not cjk.search(run.stdout)
    assert bad.returncode != 0 and "Level 0 is out of range" in bad.stderr and not cjk.search(bad.stdout + bad.stderr)


def test_the_engines_branch_and_head_names_are_shown_in_the_pages_language():
    """Every branch and settings name the family's heads give (the engine's, English in the JSON)
    reads the same in English and has no English word left in Chinese, names of modules aside."""
    from spp_viz.choices import BinRule, Pool
    from spp_viz.figures.text import engine_name
    from spp_viz.heads.registry import REGISTRY, BuildArgs

    names = set()
    for args in (BuildArgs(64, levels=(1, 2, 4)), BuildArgs(64, 3, 4, (6, 3, 2, 1), Pool.AVG, BinRule.PAPER)):
        for spec in REGISTRY.values():
            key = spec.key(args)
            names |= {b.name for b in spec.branches(key)} | set(spec.part_names(key)) | {spec.view_name(key), spec.view_name(key) + ", trained"}
    assert all(engine_name(name) == name for name in names)
    words = re.compile(r"\b(level|levels|pool|bins?|rate|conv|image|pooling|shortcut|parallel|trained|paper|rule)\b")
    with speaking(Language.ZH):
        left = {name: engine_name(name) for name in names if words.search(engine_name(name))}
    assert left == {}
