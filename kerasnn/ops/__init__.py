"""Backend-agnostic operations (``keras.ops``) that are not layers.

``from kerasnn.ops import boxes`` gives box formats, IoU, delta encoding, anchors and NMS.
"""

from kerasnn.ops import boxes

__all__ = ["boxes"]
