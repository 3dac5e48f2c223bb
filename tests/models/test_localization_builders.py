"""Tests of kerasnn.models.localization: shapes, exact parameter counts, the layers CAM needs."""

import numpy as np
import pytest

from kerasnn import explain, layers, models


def test_gap_classifier_heads_and_their_parameters():
    gap = models.gap_classifier((32, 32, 3), 8, filters=(4, 8), convs_per_block=1)
    flatten = models.gap_classifier(
        (32, 32, 3), 8, filters=(4, 8), convs_per_block=1, head="flatten", dense_units=16
    )
    # base: conv 3*3*3*4 + BN 4*4, conv 3*3*4*8 + BN 8*4 -> 108 + 16 + 288 + 32 = 444
    assert gap.count_params() == 444 + 8 * 8 + 8
    # Flatten -> Dense(16, no bias) -> batch norm (4 * 16) -> Dense(8)
    assert flatten.count_params() == 444 + 16 * 16 * 8 * 16 + 4 * 16 + (16 * 8 + 8)
    assert isinstance(gap.get_layer("output"), layers.ClassActivationMapping)
    assert gap.get_layer("features").output.shape == (None, 16, 16, 8)  # pooled once, not last
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("f4")
    assert explain.cam(gap, images).shape == (2, 32, 32)


def test_localizer_outputs_a_class_and_a_normalized_box():
    model = models.localizer((32, 32, 3), 5, filters=(4, 8), convs_per_block=1, box_units=8)
    outputs = model.predict(np.zeros((3, 32, 32, 3), "f4"), verbose=0)
    assert outputs["class"].shape == (3, 5) and outputs["box"].shape == (3, 4)
    np.testing.assert_allclose(outputs["class"].sum(-1), 1.0, atol=1e-5)
    assert ((outputs["box"] > 0) & (outputs["box"] < 1)).all()


def test_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"Argument `head` must be one of 'gap', 'flatten'. "
        r"Received: head='dense'",
    ):
        models.gap_classifier((32, 32, 3), 8, head="dense")
    with pytest.raises(ValueError, match=r"Argument `filters` must be a non-empty sequence"):
        models.localizer((32, 32, 3), 8, filters=())
