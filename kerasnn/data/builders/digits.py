"""`kerasnn_digits`: the 1,797 real 8x8 handwritten digits that scikit-learn ships, as tfds.

The images are the UCI "optical recognition of handwritten digits" data (16 levels of ink per
pixel), rescaled to uint8 (``round(value * 255 / 16)``). The train/validation/test split is fixed
and stratified by class (70% / 10% / 20%, seed 0), so every recipe and test sees the same split.
"""

import numpy as np
import tensorflow_datasets as tfds

SPLIT_FRACTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}


def split_indices(labels, seed=0):
    """Stratified split of example indices into the fixed train/validation/test parts."""
    rng = np.random.default_rng(seed)
    parts = {split: [] for split in SPLIT_FRACTIONS}
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        num_train = int(round(len(members) * SPLIT_FRACTIONS["train"]))
        num_validation = int(round(len(members) * SPLIT_FRACTIONS["validation"]))
        parts["train"].append(members[:num_train])
        parts["validation"].append(members[num_train : num_train + num_validation])
        parts["test"].append(members[num_train + num_validation :])
    return {split: np.sort(np.concatenate(chunks)) for split, chunks in parts.items()}


class KerasnnDigits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 8x8 handwritten digits with a fixed stratified split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}

    def _info(self):
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the data ships inside scikit-learn
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        indices = split_indices(digits.target)
        return {
            split: self._generate_examples(images, digits.target, indices[split])
            for split in SPLIT_FRACTIONS
        }

    def _generate_examples(self, images, labels, indices):
        for index in indices:
            yield int(index), {"image": images[index], "label": int(labels[index])}
