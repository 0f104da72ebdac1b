"""spp-viz: see what spatial pyramid pooling does inside a pretrained CNN.

The package has no Streamlit import: the app (``app.py``) and the CLI (``spp-viz``) both draw
on it. One module per concern: ``pooling`` (heads), ``bins`` (geometry), ``images`` (safe
decoding), ``backbones`` (models and weights), ``analysis`` (the cached pipeline),
``report`` (one image end to end), ``figures`` (plotly), ``cli``.
"""

__version__ = "0.1.0"
