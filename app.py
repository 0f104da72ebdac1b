"""spp-viz: the Streamlit app. ``streamlit run app.py``.

Everything lives in :mod:`spp_viz.ui` (the only package that imports Streamlit); the engine
(:mod:`spp_viz.analysis` and friends) computes and :mod:`spp_viz.figures` draws.
"""

from spp_viz.ui import main

main()
