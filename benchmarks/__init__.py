"""spp-viz performance benchmarks: ``python -m benchmarks [--quick] [--json PATH] [--markdown]``.

They measure and report against the targets; they never fail a run. See ``__main__.py`` for
the table, one module per area, and ``PROFILE.md`` for where a first analysis spends its time.
"""
