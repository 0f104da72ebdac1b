"""The second phase's job wiring: what the first phase looks up in :mod:`spp_viz.ui.measure`'s
store, and the jobs it asks for when a result is missing.

Nothing here times anything while a page is drawn: a job runs after the browser has drawn the
page, alone (no analysis of any session runs meanwhile: :func:`spp_viz.ui.waiting.alone`), in the
timing worker (:mod:`spp_viz.worker`). A head's timing is one record per (map, head, the arguments it depends on): the SPP vs SPPF
table and the family read the same one, so a head in both is measured once, and a pyramid change
re-times only ``spp``. All the heads a page lacks are timed together, interleaved, in one job.
"""

from __future__ import annotations

from typing import Callable, Hashable, Mapping, Sequence

from .. import family as pyramid_family  # called through the module, so tests and benchmarks can wrap it
from ..analysis import FeatureResult
from ..family import HeadTiming, TimingKey
from ..i18n import _
from . import measure
from .caches import BackboneKey, ImageKey
from .measure import Failed, Job
from .waiting import alone


@alone("measure")
def time_heads(features: FeatureResult, keys: tuple[TimingKey, ...], *, stop: Callable[[], bool]) -> list[HeadTiming]:
    """Heads timed on the map, all interleaved (a second-phase job), in the order of ``keys``."""
    timings = pyramid_family.measure_heads(features, keys, stop=stop)
    return [timings[key] for key in keys]


def measured(job: Job) -> object | None:
    """A one-result job's stored result (a :class:`Failed` when it raised), or None after asking for it."""
    result = measure.lookup(job.keys[0])
    if result is None:
        measure.request(job)
    return result


def head_timings(image_key: ImageKey, backbone_key: BackboneKey, features: FeatureResult,
                 wanted: Sequence[TimingKey]) -> dict[TimingKey, HeadTiming | Failed]:
    """The heads' timings on this map found in the store (one record per head, whichever table
    asked for it); one job asks for the rest, all timed together after the page is drawn."""
    def stored(key: TimingKey) -> Hashable:
        return "timing", image_key, backbone_key, key

    found: dict[TimingKey, HeadTiming | Failed] = {}
    for key in dict.fromkeys(wanted):
        result = measure.lookup(stored(key))
        if isinstance(result, (HeadTiming, Failed)):
            found[key] = result
    missing = tuple(key for key in dict.fromkeys(wanted) if key not in found)
    if missing:
        names = ", ".join(dict.fromkeys(head_id for head_id, _args in missing))
        measure.request(Job(tuple(stored(key) for key in missing), _("the heads' latencies ({names})").format(names=names),
                            lambda: dict(zip((stored(key) for key in missing), time_heads(features, missing)))))
    return found


def timings_of(found: Mapping[TimingKey, HeadTiming | Failed]) -> dict[TimingKey, HeadTiming]:
    """The measured timings among ``found`` (a failed measurement has none)."""
    return {key: value for key, value in found.items() if isinstance(value, HeadTiming)}


def failure(keys: Sequence[TimingKey], found: Mapping[TimingKey, HeadTiming | Failed]) -> str | None:
    """The sentence of the first of ``keys`` whose measurement failed (None: none failed)."""
    return next((value.message for key in keys if isinstance(value := found.get(key), Failed)), None)


def all_measured(keys: Sequence[TimingKey], found: Mapping[TimingKey, HeadTiming | Failed]) -> bool:
    return all(isinstance(found.get(key), HeadTiming) for key in keys)
