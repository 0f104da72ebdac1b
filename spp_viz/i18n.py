"""The page's language: gettext catalogues kept with Babel, read into memory at first use.

The active language belongs to one script run (a :class:`contextvars.ContextVar`): the page sets
it at the top of every run (:func:`set_language`); nothing else does, so the CLI, the JSON report
and the engine, which never set it, always speak English. :func:`_` and :func:`ngettext` translate
through it; unset, they return the English message (:class:`gettext.NullTranslations`).

A catalogue is ``locale/<locale>/LC_MESSAGES/spp_viz.po``. It is compiled in memory the first time
its language is asked for (``babel.messages.mofile.write_mo`` into a buffer, then the standard
library's :class:`gettext.GNUTranslations`): nothing is written to disk, an editable install needs no
build step, and fuzzy entries are never used (see ``docs/languages.md``).

Words defined at import time (module constants such as ``PANEL_TITLES``) are marked with :func:`N_`
(for extraction) and translated where they are shown, with :func:`_`. A sentence made of numbers or
names is one message with ``{placeholders}``, formatted after translation: never translated pieces
joined. Numbers on the page are formatted per locale by :func:`number` and :func:`percent` (Babel).
"""

from __future__ import annotations

import gettext
import io
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import cache
from pathlib import Path
from typing import Iterator

from .choices import Language

DOMAIN = "spp_viz"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# each language's catalogue folder (gettext's name) and its Babel locale (numbers, plural rules)
CATALOGUES = {Language.ZH: "zh_CN"}
BABEL_LOCALES = {Language.EN: "en", Language.ZH: "zh_Hans_CN"}
HTML_LANG = {Language.EN: "en", Language.ZH: "zh-CN"}  # <html lang>: a BCP 47 tag

_active: ContextVar[Language] = ContextVar("spp_viz_language", default=Language.EN)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown, with :func:`_`."""
    return message


def language() -> Language:
    """The language of this script run (English where nothing set one: the CLI, the engine)."""
    return _active.get()


def set_language(lang: Language) -> Token[Language]:
    """Make ``lang`` this run's language; the token restores the previous one (:func:`reset_language`)."""
    return _active.set(lang)


def reset_language(token: Token[Language]) -> None:
    _active.reset(token)


@contextmanager
def speaking(lang: Language) -> Iterator[None]:
    """``lang`` inside the block (the page's JSON report is built in English, as the CLI's)."""
    token = set_language(lang)
    try:
        yield
    finally:
        reset_language(token)


def catalogue_path(lang: Language) -> Path:
    """Where ``lang``'s ``.po`` catalogue lives (English has none: it is the source language)."""
    return LOCALE_DIR / CATALOGUES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: Language) -> gettext.NullTranslations:
    """``lang``'s messages, compiled from its ``.po`` in memory once per process (fuzzy entries left out)."""
    if lang not in CATALOGUES:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=CATALOGUES[lang], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """``message`` in this run's language (itself in English, or where the catalogue lacks it)."""
    lang = _active.get()
    return message if lang is Language.EN else translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` under this run's language's plural rule (Chinese has one form)."""
    return translations(_active.get()).ngettext(singular, plural, n)


def number(value: float, digits: int = 0) -> str:
    """``value`` grouped and rounded to ``digits`` decimals as this run's locale writes numbers."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=BABEL_LOCALES[_active.get()])


def percent(share: float, digits: int = 0) -> str:
    """``share`` (0.25) as a percentage (``25%``) as this run's locale writes it."""
    from babel.numbers import format_percent

    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(share, format=pattern, locale=BABEL_LOCALES[_active.get()])
