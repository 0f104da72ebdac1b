"""Coverage-guided fuzz target for :func:`spp_viz.images.load_image` (atheris + libFuzzer).

The property (``tests/fuzz/check.py``): EVERY input gives a ``DecodedImage`` (RGB, working size
within bounds) or an ``ImageDecodeError`` whose message is one sentence; nothing else, within
2 s, with bounded memory. Anything else raises here, and libFuzzer saves the input as ``crash-<sha1>``; a
``timeout-*`` (over ``-timeout=2`` s) or ``oom-*`` (over ``-rss_limit_mb``) artifact is a failure
too. Keep every such file in ``tests/fuzz/corpus`` (``tests/test_fuzz.py`` replays the corpus).

Pillow's Python plugins and ``spp_viz.images`` are instrumented, so libFuzzer sees which
branches of the decoders each input reaches and mutates towards new ones, starting from the
seed corpus of real files (``tests/fuzz/make_corpus.py``).

Short seeded pass (what CI runs through ``tests/test_fuzz.py``)::

    python tests/fuzz/fuzz_images.py -seed=1 -runs=4000 -timeout=2 -rss_limit_mb=2048 \
        /tmp/fuzz-new tests/fuzz/corpus

Long run (an hour; new interesting inputs go to /tmp/fuzz-new, crashes to /tmp/fuzz-crash-*)::

    mkdir -p /tmp/fuzz-new && python tests/fuzz/fuzz_images.py -max_total_time=3600 -timeout=2 \
        -rss_limit_mb=2048 -artifact_prefix=/tmp/fuzz- /tmp/fuzz-new tests/fuzz/corpus

(libFuzzer writes new inputs into the FIRST folder given: keep that one outside the repo.)
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["PIL", "spp_viz"]):
    from PIL import Image

    Image.init()  # imports every format plugin now, inside the block, so they are instrumented too
    from check import check_one  # the property (tests/fuzz/check.py); imports spp_viz.images


def test_one_input(data: bytes) -> None:
    """libFuzzer's entry point: any exception but ImageDecodeError is a finding."""
    check_one(data)


def main(argv: list[str]) -> None:
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
