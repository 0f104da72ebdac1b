"""The words the pyramid explorer draws in the browser (captions, controls, tooltips, ARIA labels,
its levels control's errors), as templates with ``{name}`` placeholders that ``explorer.js``
fills (its ``t(key, vars)``). They travel with every mount, translated into the run's language
(:func:`explorer_words`), so the browser holds no words of its own.
"""

from __future__ import annotations

from ...i18n import N_, _

EXPLORER_WORDS: dict[str, str] = {
    # the levels control and its checks (the same as spp_viz.options.parse_levels accepts)
    "levels_label": N_("Pyramid levels"),
    "levels_hint": N_("e.g. 1,2,4 or a preset; Enter draws the new bins at once, their values follow"),
    "levels_range": N_("levels are whole numbers from 1 to {max}"),
    "levels_empty": N_("Levels are empty: type e.g. 1,2,4 or a preset."),
    "levels_empty_item": N_("An item between commas is empty."),
    "levels_not_level": N_("\"{text}\" is not a level: {range}."),
    "levels_out_of_range": N_("Level {n} is out of range: {range}."),
    "levels_twice": N_("A level appears twice: each may appear once."),
    # the views' titles and captions
    "photo_title": N_("Pyramid bins on the image"),
    "map_title": N_("Feature map"),
    "photo_caption": N_("Pyramid bins on the {width} × {height} input"),
    "map_caption": N_("Feature map: {label} · {channels} × {rows} × {cols}"),
    "map_blocks": N_(" (shown in {block} × {block} blocks)"),
    "pooled_note": N_("Pooled levels: each cell shows {value_label}."),
    "pooled_caption": N_("level {n}: {rows} × {cols} bins"),
    "not_n_by_n": N_(" (not n × n)"),
    # the controls and the legend
    "levels_legend": N_("Levels to draw"),
    "level_toggle": N_("level {n}"),
    "rf_toggle": N_("Receptive fields"),
    "mode_legend": N_("Hover shows"),
    "mode_spp": N_("SPP bins"),
    "mode_sppf": N_("SPPF windows (k {k}, n {n})"),
    "legend_differ": N_("paper rule's bins that differ from the adaptive rule's"),
    "legend_windows": N_("SPPF's windows around the cell under the pointer (the SPP grid is dimmed):"),
    "legend_window": N_("{formula} = {cells}: {cells} × {cells} cells, {pixels} px (RF {rf} px)"),
    # the tooltip and the live region (one bin, one cell, SPPF's windows)
    "bin_tip": N_("level {n}, bin ({row}, {col}), index {index}; cells rows {r0}–{r1}, cols {c0}–{c1} ({cells} cells); "
                  "pixels x {x0}–{x1}, y {y0}–{y1}; pooled value {value}: {value_label}; {winner}"),
    "bin_tip_differs": N_("{tip}; the paper rule's window here differs from the adaptive rule's"),
    "no_winner": N_("no winning cell (average pooling)"),
    "winner": N_("winning cell (row {row}, col {col}) of channel {channel}"),
    "winner_strongest": N_("winning cell (row {row}, col {col}) of channel {channel}, the bin's strongest"),
    "tip_cell": N_("cell (row {row}, col {col}) value {value}; pooled by {bins}"),
    "no_drawn_bin": N_("no drawn bin"),
    "tip_sppf": N_("cell (row {row}, col {col}); SPPF windows {windows}"),
    "tip_sppf_window": N_("{cells}: rows {r0}–{r1}, cols {c0}–{c1}"),
    # the canvases' ARIA labels
    "pooled_aria": N_("level {n} pooled values"),
    "selected": N_("Selected: {bin}"),
    "no_selection": N_("no bin selected"),
    "aria_photo": N_("Pyramid bins on the image. {detail}"),
    "aria_map": N_("Feature map, {label}. {detail}"),
    "aria_pooled": N_("Level {n} pooled values. {detail}"),
}


def explorer_words() -> dict[str, str]:
    """:data:`EXPLORER_WORDS` in this run's language."""
    return {key: _(template) for key, template in EXPLORER_WORDS.items()}
