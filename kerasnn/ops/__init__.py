"""Backend-agnostic operations that are not layers.

- ``boxes``: box formats, IoU, delta encoding, anchors and NMS (``keras.ops``);
- ``targets``: anchor labelling, balanced sampling and RoI sampling for two-stage detectors;
- ``geometry``: convolution arithmetic: output sizes and receptive fields (plain Python);
- ``yolo``: YOLO's grid targets, box decoding and detections, k-means anchor priors;
- ``masks``: instance-mask targets cropped with RoIAlign, masks pasted back into the image
  (``from kerasnn.ops import masks``: it builds on ``kerasnn.layers.roi``, not imported here).
"""

from kerasnn.ops import boxes, geometry, targets, yolo

__all__ = ["boxes", "geometry", "targets", "yolo"]
