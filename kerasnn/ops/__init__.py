"""Backend-agnostic operations that are not layers.

- ``boxes``: box formats, IoU, delta encoding, anchors and NMS (``keras.ops``);
- ``geometry``: convolution arithmetic: output sizes and receptive fields (plain Python).
"""

from kerasnn.ops import boxes, geometry

__all__ = ["boxes", "geometry"]
