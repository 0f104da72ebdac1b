"""spp-viz performance benchmarks: ``python -m benchmarks [--quick] [--only AREAS]``.

They measure and report against the targets; they never fail a run. ``__main__.py`` runs them and
writes ``results/results.json``, from which ``README.md``'s table is generated (``results.py``);
one module per area. ``python -m benchmarks.profile app|rerun|engine`` writes where a first
analysis spends its time to ``results/profile-TARGET.txt``.
"""
