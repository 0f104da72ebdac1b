"""Defaults and choices shared by the engine, the CLI and the app.

No torch import here: the CLI reads these (and refuses a bad file) before paying for torch.
"""

DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_LEVELS: tuple[int, ...] = (1, 2, 4)
POOL_TYPES: tuple[str, ...] = ("max", "avg")
BIN_RULES: tuple[str, ...] = ("adaptive", "paper")
WEIGHT_CHOICES: tuple[str, ...] = ("pretrained", "untrained")
DEFAULT_TOP_K = 5
