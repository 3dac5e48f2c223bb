"""Metrics Keras lacks: detection mean average precision (VOC- and COCO-style).

Course notes, "CNN for Object Detection": a detector maps an image to a set of
``(box, label, score)``; it is judged by how well the ranked detections recover the annotated
boxes. These metrics run once over a whole evaluation set, in NumPy (they sort and match
detections, nothing to differentiate), after the model has predicted.

Data layout (one entry per image, in the same order in both lists):

* ``ground_truths[i]``: dict with ``"boxes"`` ``(m, 4)`` ``[y1, x1, y2, x2]`` and ``"classes"``
  ``(m,)`` ints;
* ``predictions[i]``: dict with ``"boxes"`` ``(n, 4)``, ``"scores"`` ``(n,)`` and ``"classes"``
  ``(n,)``. Entries with a negative class (the padding of
  :func:`kerasnn.ops.boxes.non_max_suppression`) are ignored, and when ``"num_detections"`` is
  present only the first ``num_detections`` entries are read.

Boxes only need to share one coordinate convention (pixels or normalized); IoU is computed with
:func:`kerasnn.ops.boxes.pairwise_iou` (continuous coordinates, no "+1").

Matching, per class, over the whole data set: detections are visited by decreasing score (ties
keep image order, then detection order); a detection is a true positive when some not-yet-matched
ground truth of its class in its image has ``IoU >= iou_threshold`` — it takes the one with the
highest IoU — otherwise it is a false positive (a duplicate detection of an object is a false
positive). This is COCO's rule; the Pascal VOC devkit differs only in corner cases (it uses
``IoU > threshold`` and counts a detection whose best ground truth is already taken as a false
positive). No "difficult" / "crowd" flags, area ranges or per-image detection caps.
"""

import numpy as np

from kerasnn import arguments

COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50, 0.55, ..., 0.95


def box_iou(boxes1, boxes2):
    """``kerasnn.ops.boxes.pairwise_iou`` of ``(N, 4)`` and ``(M, 4)`` boxes in NumPy: ``(N, M)``
    (same formula: inverted boxes are empty, IoU 0 when the union is 0). For loops over images
    in NumPy code (metrics, sampling), where one eager TensorFlow call per image costs more
    than the arithmetic."""
    a = np.asarray(boxes1, np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes2, np.float64).reshape(1, -1, 4)
    inter_h = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0)
    inter_w = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0)
    intersection = inter_h * inter_w

    def area(boxes):
        return (np.maximum(boxes[..., 2] - boxes[..., 0], 0)
                * np.maximum(boxes[..., 3] - boxes[..., 1], 0))

    union = area(a) + area(b) - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def average_precision(recall, precision, method="all_points"):
    """Area under a precision-recall curve.

    Args:
        recall: 1-D increasing recalls of the ranked detections (``TP_k / num_ground_truths``).
        precision: 1-D precisions ``TP_k / k`` at the same ranks.
        method: ``"all_points"`` (Pascal VOC 2010+): the precision is first replaced by its
            running maximum from the right (``p_interp(r) = max_{r' >= r} p(r')``) and the area
            is ``sum_k (r_k - r_{k-1}) * p_interp(r_k)``; ``"101_points"`` (COCO): the mean of
            ``p_interp`` at recalls ``0, 0.01, ..., 1`` (0 beyond the highest recall reached).

    Returns:
        The average precision, a float in ``[0, 1]``.
    """
    recall = np.asarray(recall, "float64").reshape(-1)
    precision = np.asarray(precision, "float64").reshape(-1)
    if recall.shape != precision.shape:
        arguments.fail(
            "precision",
            f"one value per recall ({recall.shape[0]} recalls)",
            None,
            received=f"{precision.shape[0]} precisions",
        )
    arguments.one_of("method", method, ("all_points", "101_points"))
    # The precision envelope: the best precision achievable at this recall or any higher one.
    envelope = np.maximum.accumulate(np.concatenate([precision, [0.0]])[::-1])[::-1]
    if method == "all_points":
        steps = np.diff(np.concatenate([[0.0], recall]))
        return float(np.sum(steps * envelope[:-1]))
    points = np.linspace(0.0, 1.0, 101)
    first_rank = np.searchsorted(recall, points, side="left")  # first rank with recall >= point
    return float(np.mean(envelope[first_rank]))


def _image_entries(entry, index, name, with_scores, region="boxes"):
    # region: "boxes" (n, 4) or "masks" (n, height, width), the instances' regions
    if (
        not isinstance(entry, dict)
        or region not in entry
        or "classes" not in entry
        or (with_scores and "scores" not in entry)
    ):
        keys = f'"{region}", "scores", "classes"' if with_scores else f'"{region}", "classes"'
        arguments.fail(
            f"{name}[{index}]", f"a dict with keys {keys}", None, received=f"{entry!r:.200}"
        )
    boxes = np.asarray(entry[region], "float64")
    if region == "masks":  # binary masks, or probabilities thresholded at 0.5
        boxes = boxes > 0.5
    classes = np.asarray(entry["classes"]).reshape(-1)
    if boxes.size == 0 and region == "boxes":
        boxes = boxes.reshape(0, 4)
    count = len(classes)
    if "num_detections" in entry:
        count = int(np.asarray(entry["num_detections"]).reshape(()))
    scores = np.asarray(entry["scores"], "float64").reshape(-1) if with_scores else None
    if (
        (region == "boxes" and (boxes.ndim != 2 or boxes.shape[1] != 4))
        or (region == "masks" and boxes.ndim != 3)
        or len(boxes) != len(classes)
        or (with_scores and len(scores) != len(classes))
    ):
        arguments.fail(
            f"{name}[{index}]",
            ("boxes of shape (n, 4)" if region == "boxes" else "masks of shape (n, height, width)")
            + " and n classes" + (" and n scores" if with_scores else ""),
            None,
            received=f"{region}.shape={boxes.shape}, classes.shape={classes.shape}"
            + (f", scores.shape={scores.shape}" if with_scores else ""),
        )
    keep = np.arange(len(classes)) < count
    keep &= classes >= 0
    return boxes[keep], classes[keep].astype("int64"), (scores[keep] if with_scores else None)


def _match(predictions, ground_truths, iou_thresholds, region="boxes", overlap=None):
    """Per class and threshold: scores, true-positive flags and the number of ground truths.

    ``overlap(predicted, true)`` is the pairwise IoU of two sets of regions (default: boxes'
    ``box_iou``)."""
    overlap = overlap or box_iou
    if len(predictions) != len(ground_truths):
        arguments.fail(
            "predictions",
            "one entry per image of `ground_truths`",
            None,
            received=f"{len(predictions)} predictions and {len(ground_truths)} ground truths",
        )
    per_class = {}  # class -> {"scores": [], "tp": [[per threshold]], "num_gt": int}
    for index, (prediction, truth) in enumerate(zip(predictions, ground_truths)):
        pred_boxes, pred_classes, scores = _image_entries(prediction, index, "predictions", True,
                                                          region)
        gt_boxes, gt_classes, _ = _image_entries(truth, index, "ground_truths", False, region)
        for cls in np.unique(gt_classes):
            per_class.setdefault(int(cls), {"scores": [], "tp": [], "num_gt": 0})
            per_class[int(cls)]["num_gt"] += int(np.sum(gt_classes == cls))
        if len(pred_boxes) == 0:
            continue
        iou = np.zeros((len(pred_boxes), len(gt_boxes)))
        if len(gt_boxes):
            iou = overlap(pred_boxes, gt_boxes)
        for cls in np.unique(pred_classes):
            record = per_class.setdefault(int(cls), {"scores": [], "tp": [], "num_gt": 0})
            detections = np.flatnonzero(pred_classes == cls)
            detections = detections[np.argsort(-scores[detections], kind="stable")]
            class_iou = iou[np.ix_(detections, np.flatnonzero(gt_classes == cls))]
            flags = np.zeros((len(detections), len(iou_thresholds)), bool)
            for t, threshold in enumerate(iou_thresholds):
                taken = np.zeros(class_iou.shape[1], bool)
                for d in range(len(detections)):
                    candidates = np.where(taken | (class_iou[d] < threshold), -1.0, class_iou[d])
                    if candidates.size and candidates.max() >= 0:
                        best = int(np.argmax(candidates))
                        taken[best] = True
                        flags[d, t] = True
            record["scores"].append(scores[detections])
            record["tp"].append(flags)
    return per_class


def average_precision_per_class(predictions, ground_truths, iou_threshold=0.5, method="all_points"):
    """Average precision of every class that has at least one ground-truth box.

    Args:
        predictions: list of per-image prediction dicts (see the module docstring).
        ground_truths: list of per-image ground-truth dicts.
        iou_threshold: IoU at or above which a detection can match a ground truth, in ``(0, 1]``.
        method: ``"all_points"`` or ``"101_points"`` (see :func:`average_precision`).

    Returns:
        Dict ``{class: AP}``. A class with ground truths but no detection has AP 0; classes that
        only appear in the predictions are left out (their AP is undefined).
    """
    return _per_class_over_thresholds(predictions, ground_truths, (iou_threshold,), method)[0]


def _per_class_over_thresholds(predictions, ground_truths, iou_thresholds, method,
                               region="boxes", overlap=None):
    for threshold in iou_thresholds:
        arguments.number_in("iou_threshold", threshold, 0.0, 1.0, low_inclusive=False)
    per_class = _match(predictions, ground_truths, iou_thresholds, region, overlap)
    results = [dict() for _ in iou_thresholds]
    for cls in sorted(per_class):
        record = per_class[cls]
        if record["num_gt"] == 0:
            continue
        if not record["scores"]:
            for result in results:
                result[cls] = 0.0
            continue
        scores = np.concatenate(record["scores"])
        flags = np.concatenate(record["tp"])
        order = np.argsort(-scores, kind="stable")  # ties keep image order
        flags = flags[order]
        ranks = np.arange(1, len(flags) + 1)[:, None]
        true_positives = np.cumsum(flags, axis=0)
        recall = true_positives / record["num_gt"]
        precision = true_positives / ranks
        for t, result in enumerate(results):
            result[cls] = average_precision(recall[:, t], precision[:, t], method)
    return results


def mean_average_precision(predictions, ground_truths, iou_threshold=0.5, method="all_points"):
    """Pascal VOC-style mAP: mean over classes of the all-point interpolated AP at one IoU.

    ``mAP = (1 / |classes|) * sum_c AP_c`` over the classes with at least one ground truth.

    Args:
        predictions: list of per-image prediction dicts (see the module docstring).
        ground_truths: list of per-image ground-truth dicts.
        iou_threshold: matching IoU, default 0.5 (VOC).
        method: ``"all_points"`` (default) or ``"101_points"``.

    Returns:
        A float in ``[0, 1]``; NaN when no image has a ground-truth box.

    Example:

    >>> truth = [{"boxes": [[0, 0, 10, 10]], "classes": [0]}]
    >>> perfect = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "classes": [0]}]
    >>> mean_average_precision(perfect, truth)
    1.0
    """
    per_class = average_precision_per_class(predictions, ground_truths, iou_threshold, method)
    return float(np.mean(list(per_class.values()))) if per_class else float("nan")


def coco_mean_average_precision(
    predictions, ground_truths, iou_thresholds=COCO_IOU_THRESHOLDS, method="101_points"
):
    """COCO-style mAP ("AP@[.5:.95]"): the mAP averaged over IoU thresholds 0.50, 0.55, ..., 0.95.

    Uses COCO's 101-point interpolation by default (``method="all_points"`` for the VOC area).

    Returns:
        A float in ``[0, 1]``; NaN when no image has a ground-truth box.
    """
    results = _per_class_over_thresholds(predictions, ground_truths, tuple(iou_thresholds), method)
    if not results or not results[0]:
        return float("nan")
    return float(np.mean([np.mean(list(result.values())) for result in results]))


def proposal_recall(proposals, ground_truths, iou_threshold=0.5):
    """Fraction of the true boxes that some proposal covers with IoU ``>= iou_threshold``
    (course notes, "Region Proposal": proposals must find every object, with few boxes).

    Args:
        proposals: list of per-image ``(P, 4)`` pixel boxes (empty boxes, padding, never match).
        ground_truths: list of per-image ground-truth dicts (``"boxes"``, ``"classes"``; classes
            below 0 are padding).
        iou_threshold: IoU in ``(0, 1]``.

    Returns:
        A float in ``[0, 1]``; NaN when there is no true box.

    Example:

    >>> proposal_recall([[[0, 0, 10, 10], [20, 20, 30, 30]]],
    ...                 [{"boxes": [[0, 0, 10, 9], [40, 40, 50, 50]], "classes": [0, 1]}])
    0.5
    """
    arguments.number_in("iou_threshold", iou_threshold, 0.0, 1.0, low_inclusive=False)
    found, total = 0, 0
    for index, (boxes, truth) in enumerate(zip(proposals, ground_truths)):
        gt_boxes, _, _ = _image_entries(truth, index, "ground_truths", False)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        total += len(gt_boxes)
        if len(gt_boxes) and len(boxes):
            iou = box_iou(boxes, gt_boxes)
            found += int(np.sum(iou.max(axis=0) >= iou_threshold))
    return found / total if total else float("nan")


def duplicate_detections(predictions, ground_truths, iou_threshold=0.5, score_threshold=0.5):
    """Detections beyond the first on the same true box, per true box (what NMS removes).

    A detection with score ``>= score_threshold`` lands on every true box of its class it
    overlaps with IoU ``>= iou_threshold``; a box hit ``n > 0`` times counts ``n - 1``
    duplicates. Takes every row of a prediction, or its first ``num_detections`` when it has
    that key, so raw candidates before NMS and padded NMS outputs can both be counted.

    Returns:
        Mean duplicates per true box (NaN without true boxes).

    Example:

    >>> truth = [{"boxes": [[0, 0, 10, 10]], "classes": [0]}]
    >>> twice = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 9]], "scores": [0.9, 0.8],
    ...           "classes": [0, 0]}]
    >>> duplicate_detections(twice, truth)
    1.0
    """
    duplicates, total = 0, 0
    for index, (prediction, truth) in enumerate(zip(predictions, ground_truths)):
        gt_boxes, gt_classes, _ = _image_entries(truth, index, "ground_truths", False)
        boxes = np.asarray(prediction["boxes"], np.float32).reshape(-1, 4)
        scores = np.asarray(prediction["scores"], np.float32).reshape(-1)
        classes = np.asarray(prediction["classes"]).reshape(-1)
        keep = scores >= score_threshold
        if "num_detections" in prediction:
            keep &= np.arange(len(scores)) < int(prediction["num_detections"])
        boxes, classes = boxes[keep], classes[keep]
        total += len(gt_boxes)
        if len(gt_boxes) and len(boxes):
            iou = box_iou(boxes, gt_boxes)
            hits = (iou >= iou_threshold) & (classes[:, None] == gt_classes[None, :])
            duplicates += int(np.sum(np.maximum(hits.sum(axis=0) - 1, 0)))
    return duplicates / total if total else float("nan")


def detections_of(predict, batches, input_keys=("image",), timing_repeats=1):
    """Run a detector over padded detection batches.

    Args:
        predict: e.g. ``model.predict_on_batch``; returns padded detections (``"boxes"``,
            ``"scores"``, ``"classes"``, ``"num_detections"``, and ``"masks"`` for an instance
            segmenter), the layout of ``kerasnn.ops.boxes.non_max_suppression``.
        batches: iterable of dicts with pixel ``"boxes"``, ``"labels"`` (``-1`` padding) and
            the ``input_keys`` (``kerasnn.data.detection.load`` batches; ``"masks"``
            ``(G, height, width)`` per image from ``kerasnn.data.instances.load`` are carried into
            the ground truths).
        input_keys: what ``predict`` receives: one key gives that array, several a dict.
        timing_repeats: positive int; each batch is predicted this many times and the fastest
            counts (the least disturbed by other processes on a shared machine).

    Returns:
        ``(predictions, ground_truths, seconds)``: per-image dicts in this module's layout and
        the seconds spent in ``predict`` alone (each batch size is run once before the clock
        starts, so tracing is not timed).
    """
    import time

    timing_repeats = arguments.positive_int("timing_repeats", timing_repeats)
    predictions, truths, seconds, traced = [], [], 0.0, set()
    for batch in batches:
        inputs = ({key: batch[key] for key in input_keys} if len(input_keys) > 1
                  else batch[input_keys[0]])
        size = len(batch["labels"])
        if size not in traced:
            traced.add(size)
            predict(inputs)
        times = []
        for _ in range(timing_repeats):
            start = time.perf_counter()
            out = predict(inputs)
            times.append(time.perf_counter() - start)
        seconds += min(times)
        predictions += [{k: np.asarray(v[i]) for k, v in out.items()} for i in range(size)]
        labels, boxes = np.asarray(batch["labels"]), np.asarray(batch["boxes"])
        for i in range(size):
            keep = labels[i] >= 0
            truth = {"boxes": boxes[i][keep], "classes": labels[i][keep]}
            if "masks" in batch:
                truth["masks"] = np.asarray(batch["masks"][i])[keep]
            truths.append(truth)
    return predictions, truths, seconds


def evaluate_detector(predict, batches, input_keys=("image",), timing_repeats=1):
    """Run a detector over detection batches (:func:`detections_of`) and score it.

    Returns:
        dict: ``"map50"`` (VOC mAP@0.5), ``"coco_map"`` (COCO mAP@[.5:.95]), ``"ms_per_image"``
        (of ``predict`` alone), and the per-image ``"predictions"`` and ``"truths"`` dicts.
    """
    predictions, truths, seconds = detections_of(predict, batches, input_keys, timing_repeats)
    return {"map50": mean_average_precision(predictions, truths),
            "coco_map": coco_mean_average_precision(predictions, truths),
            "ms_per_image": 1000.0 * seconds / max(len(truths), 1),
            "predictions": predictions, "truths": truths}
