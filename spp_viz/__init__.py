"""spp-viz: see what spatial pyramid pooling does inside a pretrained CNN.

The app (``app.py``) and the CLI (``spp-viz``) both draw on it. Only :mod:`spp_viz.ui` imports
Streamlit; everything else runs without it. One module per concern:

* the engine: ``choices`` and ``defaults`` (shared settings), ``options`` (torch-free option
  checks), ``configs`` (the pyramid and the family asked for, torch-free), ``catalogue`` (the
  backbones' titles and weights files, torch-free), ``formats`` (what a file is) and ``images`` (safe decoding), ``backbones`` and
  ``efficientnet_lite`` (models and weights), ``checkpoints`` (reading them), ``detectors`` (a YOLO
  detector checkpoint as a backbone, read without running it), ``geometry``,
  ``trace`` and ``layer_tables`` (what a stage does to space; every backbone's, kept as data),
  ``phase0`` (the pyramid's geometry before the forward, without torch), ``errors``, ``devices`` (where the model runs),
  ``bins`` (geometry), ``pooling`` (SPP, average SPP,
  YOLO's parallel SPP, SPPF), ``analysis`` (the pipeline), ``dimensions``, ``erf``, ``regions``,
  ``scales``, ``family`` (the pooling heads on one map, SPP vs SPPF included: ``family.compare``),
  ``heads`` (the pyramid-pooling family's modules, registry and costs), ``timing`` (latency measurements), ``worker``
  (the timing worker: every measurement in a process of its own), ``report`` (one image end to end, the JSON report);
* the app: ``ui`` (the Streamlit page), ``figures`` (plotly figures and the sentences that
  explain results), ``explorer`` (the pyramid explorer's payload);
* serving: ``admission`` (the heavy-job queue: analyses share slots, a measurement runs alone), ``allocator`` (malloc settings), ``replica``
  (which replica this process is), ``deploy`` (replicas behind HAProxy);
* ``cli`` (``spp-viz``, also ``python -m spp_viz``), ``devtools`` (helpers for tests and benchmarks).
"""

__version__ = "0.1.0"
