"""What counts as an English sentence on the Chinese page (the AppTest and the Chromium tests share it).

Three or more words of two or more letters in a row, once names (backbones, heads, ImageNet's
classes), addresses and lists of codes (``max, avg``; the link's keys; head ids) are taken out.
"""

from __future__ import annotations

import re

from spp_viz.catalogue import TITLES
from spp_viz.head_ids import head_ids, head_name

# three or more words of two or more letters in a row (single letters are symbols here: k x k, C × h × w)
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’.-]+(?:[ ,/]+[A-Za-z][A-Za-z'’.-]+){2,}")
URL = re.compile(r"https?:\S*|\b[\w-]+(?:\.[\w-]+)+/\S*")  # a head's source: an address, not a sentence
# a list of codes a sentence offers (choose one of max, avg; the settings are photo, max_side, …; PNG, JPEG, …):
# lower-case identifiers or upper-case format names joined by commas, none of them a word of a sentence on its own
_CODE = r"(?:[a-z][\w.-]*|[A-Z0-9]{2,})"
CODES = re.compile(rf"\b{_CODE}(?:, {_CODE}){{2,}}\b")


def names() -> list[str]:
    """Names the page shows as they are, longest first: backbones, heads, ImageNet's classes."""
    from spp_viz.backbones import imagenet_categories

    found = {*TITLES.values(), *(t.split(" (")[0] for t in TITLES.values()), *(head_name(h) for h in head_ids()),
             *imagenet_categories(), "Source Han Sans", "spp-viz"}
    return sorted(found, key=len, reverse=True)


def english_runs(lines: list[str]) -> list[str]:
    """The runs of English words in ``lines`` outside names, addresses and lists of codes."""
    allowed = names()
    found = []
    for line in lines:
        line = CODES.sub(" ", URL.sub(" ", line.replace("\\", "")))  # Markdown's escapes (max\\_side) out
        for name in allowed:
            line = line.replace(name, " ")
        found += ENGLISH_RUN.findall(line)
    return found
