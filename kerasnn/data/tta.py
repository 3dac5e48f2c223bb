"""Test-time augmentation (section "Data Augmentation", TTA).

For each test image ``I``: draw augmented copies ``A_l(I)``, classify each,
``p_l = CNN(A_l(I))``, and take the average posterior ``p = Avg({p_l})`` as the final guess.
"""

import numpy as np


def predict_with_tta(
    model,
    inputs,
    augment,
    *,
    num_augmentations=8,
    include_original=True,
    from_logits=False,
    batch_size=256,
):
    """Class posteriors averaged over augmented copies of every input.

    Args:
        model: a classifier returning posteriors (or logits with ``from_logits=True``).
        inputs: an array ``(N, ...)`` of images, or a ``tf.data.Dataset`` of batches of images or
            of ``(images, labels, ...)`` tuples (only the images are used).
        augment: callable ``augment(images, training=True)``, e.g. a ``keras.Sequential`` of random
            preprocessing layers (see ``kerasnn.data.augment``). Give its layers a seed for
            reproducible predictions.
        num_augmentations: number of augmented copies ``A_l(I)``.
        include_original: also average the prediction of the unaugmented image.
        from_logits: apply a softmax to the model outputs before averaging (posteriors are
            averaged, not scores).
        batch_size: images per forward pass when ``inputs`` is an array.

    Returns:
        ``(N, num_classes)`` NumPy array of averaged posteriors.

    Example:
        >>> probabilities = predict_with_tta(model, x_test, data.augment.geometric(seed=0))
        >>> predicted = probabilities.argmax(axis=-1)
    """
    if num_augmentations < 0 or (num_augmentations == 0 and not include_original):
        raise ValueError(
            "Need at least one prediction to average: num_augmentations must be >= 1 or "
            f"include_original=True; received num_augmentations={num_augmentations}, "
            f"include_original={include_original}."
        )
    if hasattr(inputs, "element_spec"):  # a tf.data.Dataset
        batches = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in inputs)
    else:
        inputs = np.asarray(inputs)
        batches = (
            inputs[start : start + batch_size] for start in range(0, len(inputs), batch_size)
        )
    averaged = [
        _average_posterior(model, images, augment, num_augmentations, include_original, from_logits)
        for images in batches
    ]
    return np.concatenate(averaged, axis=0)


def _average_posterior(model, images, augment, num_augmentations, include_original, from_logits):
    copies = [images] if include_original else []
    copies.extend(augment(images, training=True) for _ in range(num_augmentations))
    total = 0.0
    for copy in copies:
        outputs = np.asarray(model(copy, training=False), dtype=np.float64)
        if from_logits:
            outputs = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
            outputs /= outputs.sum(axis=-1, keepdims=True)
        total = total + outputs
    return (total / len(copies)).astype(np.float32)
