"""Defaults shared by the engine, the CLI and the app (the closed sets of choices are the enums
of :mod:`spp_viz.choices`).

No torch import here: the CLI reads these (and refuses a bad file) before paying for torch.
"""

DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_LEVELS: tuple[int, ...] = (1, 2, 4)
DEFAULT_TOP_K = 5
MAX_TOP_K = 1000  # ImageNet has 1000 classes

# Backbones and their stages, in order: the CLI refuses a bad name before torch loads.
# ``spp_viz.backbones.REGISTRY`` takes its names, order, stages and default stages from here.
BACKBONE_STAGES: dict[str, tuple[str, ...]] = {
    "efficientnet_lite0": ("stage2", "stage3", "stage5", "stage7", "head"),
    "resnet18": ("layer1", "layer2", "layer3", "layer4"),
    "resnet50": ("layer1", "layer2", "layer3", "layer4"),
    "vgg16": ("conv3_3", "conv4_3", "conv5_3", "pool5"),
    "mobilenet_v3_large": ("features.3", "features.6", "features.12", "features.16"),
    "efficientnet_b0": ("features.2", "features.3", "features.5", "features.8"),
    "convnext_tiny": ("features.1", "features.3", "features.5", "features.7"),
}
# The stage each backbone's own classifier reads (VGG-16: conv5_3, the last conv before pool5).
DEFAULT_STAGES: dict[str, str] = {
    "efficientnet_lite0": "head",
    "resnet18": "layer4",
    "resnet50": "layer4",
    "vgg16": "conv5_3",
    "mobilenet_v3_large": "features.16",
    "efficientnet_b0": "features.8",
    "convnext_tiny": "features.7",
}
BACKBONE_NAMES: tuple[str, ...] = tuple(BACKBONE_STAGES)
# A user's YOLO detector checkpoint (``spp_viz.detectors``): built from the file, so not in the
# registry of architectures above. Stages: the last block at stride 8, 16, 32, and the SPPF.
DETECTOR_BACKBONE = "yolo"
DETECTOR_STAGES: tuple[str, ...] = ("p3", "p4", "p5", "sppf")
DETECTOR_DEFAULT_STAGE = "p5"  # the SPPF's input

# Pyramid levels: named presets and the largest n (an n x n level).
LEVEL_PRESETS: dict[str, tuple[int, ...]] = {
    "default": DEFAULT_LEVELS,
    "spp-net": (6, 3, 2, 1),
    "psp": (1, 2, 3, 6),
}
MAX_LEVEL = 64

# The one megapixel limit for an image file (its header size, before any pixel is decoded).
# It equals Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS = 2**30 // 4 // 3),
# so Pillow never refuses an image that this limit lets through: one limit, one sentence.
MAX_IMAGE_PIXELS = 89_478_485
# The smallest working image side: stride-32 backbones need at least one feature cell, and VGG's
# unpadded 2x2 pools need 32 px. Images are scaled up to it; a smaller --max-side is refused.
MIN_WORKING_SIDE = 32
# The image uploader's limit (per file, MB as Streamlit counts them: 2**20 bytes). The server's own
# limit (.streamlit/config.toml, server.maxUploadSize) is the checkpoint uploader's, larger.
IMAGE_UPLOAD_MB = 50

# The pyramid-pooling family: head ids are part of the CLI and JSON contract.
HEAD_IDS: tuple[str, ...] = (
    "spp", "spp_yolo", "sppf", "sppf_separable", "simsppf", "sppcspc", "cspsppf", "sppelan", "ppm", "aspp",
)
# Each built-in head's name, as the page's head picker, the family's tables and the JSON write it.
HEAD_NAMES: dict[str, str] = {
    "spp": "SPP (He et al.)", "spp_yolo": "SPP (YOLOv5)", "sppf": "SPPF (YOLOv5)",
    "sppf_separable": "SPPF, separable pools", "simsppf": "SimSPPF (YOLOv6)", "sppcspc": "SPPCSPC (YOLOv7)",
    "cspsppf": "CSPSPPF (YOLOv6)", "sppelan": "SPPELAN (YOLOv9)", "ppm": "PPM (PSPNet)", "aspp": "ASPP (DeepLabV3)",
}
DEFAULT_FAMILY_HEADS: tuple[str, ...] = ("spp", "spp_yolo", "sppf")
SPPF_DEFAULT_K = 5  # ultralytics SPPF(k=5, n=3): windows 5, 9, 13
SPPF_DEFAULT_N = 3
SPPF_MAX_K = 31  # odd pool sizes 1..31
SPPF_MAX_N = 8  # chained pools
