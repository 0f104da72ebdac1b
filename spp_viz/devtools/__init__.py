"""Helpers for the test suite and the benchmarks, never imported by the app or the CLI.

:mod:`.plotly_arrays` reads plotly's packed typed arrays in figure JSON; :mod:`.server` starts
``streamlit run app.py`` for a real browser and stops its whole process group.
"""
