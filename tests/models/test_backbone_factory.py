"""kerasnn.models.transfer: a base by name, and a factory that checks its weights up front."""

import keras
import numpy as np
import pytest

from kerasnn import models


def test_backbone_by_name_and_imagenet_only_for_applications():
    base, preprocess = models.backbone("small_cnn", (16, 16, 3))
    assert base.name == "backbone" and base.output_shape == (None, 64) and preprocess is None
    with pytest.raises(ValueError, match="ImageNet weights exist only for keras.applications"):
        models.backbone("small_cnn", (16, 16, 3), "imagenet")
    with pytest.raises(ValueError, match="Unknown backbone 'alexnet'"):
        models.backbone_factory("alexnet", (32, 32, 3))


def test_factory_builds_fresh_copies_with_the_weights_file(tmp_path):
    path = str(tmp_path / "base.weights.h5")
    trained = models.small_cnn_backbone((16, 16, 3))
    trained.set_weights([w + 1.0 for w in trained.get_weights()])
    trained.save_weights(path)
    asked = []
    make, preprocess = models.backbone_factory(
        "small_cnn", (16, 16, 3), path, allow_download=lambda: asked.append(1) or False)
    assert preprocess is None and not asked  # no ImageNet weights wanted: no network probe
    first, second = make(), make()
    assert first is not second
    for expected, a, b in zip(trained.get_weights(), first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, expected)
        np.testing.assert_array_equal(b, expected)


def test_with_weights_loads_after_building(tmp_path):
    path = str(tmp_path / "pretrained.weights.h5")
    pretrained = models.small_cnn_backbone((8, 8, 3), filters=(4,))
    pretrained.save_weights(path)
    make = models.with_weights(lambda: models.small_cnn_backbone((8, 8, 3), filters=(4,)), path)
    for expected, loaded in zip(pretrained.get_weights(), make().get_weights()):
        np.testing.assert_array_equal(loaded, expected)


def test_unloadable_weights_fail_before_training(tmp_path):
    path = tmp_path / "broken.weights.h5"
    path.write_text("not an HDF5 file")
    with pytest.raises(models.WeightsUnavailable, match=r"cannot load the base's weights \("):
        models.backbone_factory("small_cnn", (16, 16, 3), str(path))


def test_imagenet_download_refused_offline_fails_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached copy of the weights
    with pytest.raises(models.WeightsUnavailable, match="the network is unreachable"):
        models.backbone_factory("mobilenet_v3_small", (32, 32, 3), "imagenet",
                                allow_download=False)
    keras.backend.clear_session()
