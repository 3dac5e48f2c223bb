"""Tests of kerasnn.models.segmentation: exact convolutionalization, shift-and-stitch against the
rarefied network and a NumPy interleaving, FCN and U-Net shapes, bilinear initialization, and
the ValueErrors on bad input."""

import keras
import numpy as np
import pytest

from kerasnn.data import segmentation as segmentation_data
from kerasnn.models import segmentation


def _classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(3, activation="softmax"),
    ])


def test_convolutionalize_gives_the_classifier_scores_and_heatmaps():
    model = _classifier()
    images = np.random.default_rng(0).normal(size=(4, 12, 12, 3)).astype("float32")
    converted = segmentation.convolutionalize(model)
    scores = converted.predict(images, verbose=0)
    assert scores.shape == (4, 1, 1, 3)
    np.testing.assert_array_equal(scores[:, 0, 0], model.predict(images, verbose=0))
    # on a larger input: a heatmap whose every position is the classifier on that window
    large = np.random.default_rng(1).normal(size=(1, 20, 16, 3)).astype("float32")
    heatmap = converted.predict(large, verbose=0)
    assert heatmap.shape == (1, 5, 3, 3)  # (20 - 12) / 2 + 1, (16 - 12) / 2 + 1
    window = large[:, 4:16, 2:14]  # heatmap position (2, 1): stride 2
    np.testing.assert_allclose(heatmap[0, 2, 1], model.predict(window, verbose=0)[0], atol=1e-6)


def _strided_net():
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((None, None, 2)),
        keras.layers.Conv2D(3, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(2, 3),
    ])


def test_shift_and_stitch_equals_the_rarefied_network():
    model = _strided_net()
    images = np.random.default_rng(2).normal(size=(2, 17, 15, 2)).astype("float32")
    stitched = segmentation.shift_and_stitch(model, images, 2)
    dense = segmentation.rarefy(model).predict(images, verbose=0)
    assert stitched.shape == (2, 10, 8, 2) and dense.shape == (2, 10, 8, 2)
    np.testing.assert_allclose(stitched, dense, atol=1e-5)


def test_shift_and_stitch_interleaves_like_numpy():
    # a "network" that picks every f-th pixel: stitching its shifted outputs restores the image
    pick = keras.Sequential([keras.Input((None, None, 1)), keras.layers.MaxPooling2D(1, strides=3)])
    images = np.arange(2 * 9 * 6, dtype="float32").reshape(2, 9, 6, 1)
    np.testing.assert_array_equal(segmentation.shift_and_stitch(pick, images, 3), images)


@pytest.mark.parametrize(
    "size, upsampling", [(64, u) for u in segmentation.UPSAMPLINGS] + [(96, "max_unpooling")]
)
def test_fcn_shapes_at_two_resolutions(size, upsampling):
    backbone = segmentation.fcn_backbone((size, size, 3), filters=(4, 4, 8, 8, 8))
    for variant in ("32s", "8s"):
        model = segmentation.fcn(backbone, 5, variant=variant, upsampling=upsampling)
        assert model.output.shape == (None, size, size, 5)
    outputs = model.predict(np.zeros((1, size, size, 3), "float32"), verbose=0)
    np.testing.assert_allclose(outputs.sum(-1), 1.0, rtol=1e-5)


def test_fcn_variants_have_the_notes_skip_connections():
    backbone = segmentation.fcn_backbone((64, 64, 3), filters=(4, 4, 8, 8, 8))
    names = {v: {layer.name for layer in segmentation.fcn(backbone, 2, v).layers}
             for v in segmentation.FCN_VARIANTS}
    assert "score_pool4" not in names["32s"] and "score_pool3" not in names["32s"]
    assert "score_pool4" in names["16s"] and "score_pool3" not in names["16s"]
    assert {"score_pool4", "score_pool3"} <= names["8s"]


def test_transpose_upsampling_starts_bilinear():
    kernel = segmentation.bilinear_kernel(2, 1)[:, :, 0, 0]
    np.testing.assert_allclose(kernel[:, 0], [0.0625, 0.1875, 0.1875, 0.0625])
    inputs = keras.Input((4, 4, 1))
    layer = segmentation._upsample(inputs, 2, "transpose", "up")
    up = keras.Model(inputs, layer).predict(np.ones((1, 4, 4, 1), "float32"), verbose=0)
    np.testing.assert_allclose(up[0, 1:-1, 1:-1, 0], 1.0, atol=1e-6)  # constants stay constant
    ramp = np.tile(np.arange(4, dtype="float32"), (4, 1))[None, ..., None]
    up = keras.Model(inputs, layer).predict(ramp, verbose=0)[0, 2, 1:-1, 0]
    np.testing.assert_allclose(np.diff(up), 0.5, atol=1e-6)  # linear in between the samples


@pytest.mark.parametrize("padding, size, out", [("same", 64, 64), ("valid", 92, 52)])
def test_unet_shapes(padding, size, out):
    model = segmentation.unet((size, size, 1), 3, depth=2, filters=4, padding=padding)
    assert model.output.shape == (None, out, out, 3)
    assert segmentation.unet_output_size(size, 2, padding) == out
    assert model.get_layer("up2_transpose").filters == 8  # halving the bottleneck's 16
    assert model.get_layer("down2_conv1").filters == 8
    assert model.predict(np.zeros((1, size, size, 1), "float32"), verbose=0).shape[1] == out


def test_unet_valid_matches_the_paper_sizes():
    assert segmentation.unet_output_size(572, 4, "valid") == 388  # the paper's Figure 1


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"Argument `input_shape` must be a height and width that"
                       r" are multiples of 8 \(depth=3\). Received: input_shape=\(60, 60, 1\)"):
        segmentation.unet((60, 60, 1), 2)
    with pytest.raises(ValueError, match="Argument `input_shape` must be a height and width that "
                       "are sizes a valid-padded U-Net"):
        segmentation.unet((64, 64, 1), 2, depth=3, padding="valid")
    with pytest.raises(ValueError, match="Argument `padding` must be one of 'same', 'valid'"):
        segmentation.unet((64, 64, 1), 2, padding="full")
    backbone = segmentation.fcn_backbone((64, 64, 3), filters=(2, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="Argument `upsampling` must be one of 'nearest'"):
        segmentation.fcn(backbone, 2, upsampling="bilinear")
    with pytest.raises(ValueError, match="Argument `variant` must be one of '32s'"):
        segmentation.fcn(backbone, 2, variant="4s")
    pools = [keras.layers.MaxPooling2D(name=f"pool{i}") for i in range(1, 6)]
    plain_pools = keras.Sequential([keras.Input((64, 64, 3)), *pools])
    with pytest.raises(ValueError, match="must be pooling layers with indices"):
        segmentation.fcn(plain_pools, 2, upsampling="max_unpooling")
    assert segmentation.fcn(plain_pools, 2, upsampling="nearest").output.shape == (None, 64, 64, 2)
    odd = segmentation.fcn_backbone((48, 64, 3), filters=(2, 2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"multiples of 32. Received: input shape \(48, 64, 3\)"):
        segmentation.fcn(odd, 2)
    with pytest.raises(ValueError, match="Argument `backbone` must be a model with layers named"):
        segmentation.fcn(keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Conv2D(2, 3)]), 2)
    with pytest.raises(ValueError, match="Argument `model` must be a classifier with one Flatten"):
        segmentation.convolutionalize(_strided_net())
    with pytest.raises(ValueError, match=r"Argument `images` must have shape"):
        segmentation.shift_and_stitch(_strided_net(), np.zeros((4, 4, 2)), 2)


@pytest.mark.parametrize("upsampling", ["max_unpooling", "bed_of_nails"])
def test_fcn_keras_round_trip(upsampling, tmp_path):
    backbone = segmentation.fcn_backbone((64, 64, 3), filters=(2, 2, 2, 2, 2))
    model = segmentation.fcn(backbone, 3, variant="16s", upsampling=upsampling)
    images = np.random.default_rng(0).random((1, 64, 64, 3)).astype("float32")
    path = str(tmp_path / "fcn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0),
                               atol=1e-6)


def test_initialize_from_starts_from_the_coarser_scores():
    # nearest upsampling: with the new skip scores at zero, upsample 2x then 16x equals 32x, so
    # FCN-16s initialized from FCN-32s gives exactly its outputs (and FCN-8s those of 16s)
    images = np.random.default_rng(3).random((2, 64, 64, 3)).astype("float32")
    coarse = segmentation.fcn(segmentation.fcn_backbone((64, 64, 3), filters=(2, 2, 4, 4, 4)),
                              3, "32s", "nearest")
    expected = coarse.predict(images, verbose=0)
    for variant in ("16s", "8s"):
        keras.utils.set_random_seed(7)  # fresh weights, different from the source's
        finer = segmentation.fcn(
            segmentation.fcn_backbone((64, 64, 3), filters=(2, 2, 4, 4, 4)), 3, variant,
            "nearest")
        copied = segmentation.initialize_from(coarse, finer)
        assert {"block1_conv", "block5_conv", "score_pool5"} <= set(copied)
        np.testing.assert_allclose(finer.predict(images, verbose=0), expected, atol=1e-6)
        coarse = finer


def test_patch_classifier_convolutionalized_and_stitched_classifies_every_pixel():
    # patch-based segmentation: the classifier on the patch centred on each pixel (reflect
    # padding) equals shift-and-stitch of its convolutionalized version on the padded image
    classifier = segmentation.patch_classifier((8, 8, 2), 3, filters=(3,), units=5)
    assert classifier.get_layer("flatten").output.shape == (None, 12)  # (8 - 2 - 2) // 2 = 2
    images = np.random.default_rng(4).random((1, 6, 7, 2)).astype("float32")
    padded = segmentation_data.pad_for_patches(images, 8)
    dense = segmentation.shift_and_stitch(segmentation.convolutionalize(classifier), padded, 2)
    windows = np.stack([padded[0, r:r + 8, c:c + 8] for r in range(6) for c in range(7)])
    expected = classifier.predict(windows, verbose=0).reshape(6, 7, 3)
    np.testing.assert_allclose(dense[0, :6, :7], expected, atol=1e-6)


def test_fcn_backbone_with_batch_norm_keeps_pools_and_names():
    backbone = segmentation.fcn_backbone((64, 64, 3), filters=(2, 2, 2, 2, 2), batch_norm=True)
    names = [layer.name for layer in backbone.layers]
    assert names.index("block1_conv") < names.index("block1_bn") < names.index("block1_relu")
    assert backbone.get_layer("block1_conv").activation.__name__ == "linear"
    model = segmentation.fcn(backbone, 3, "8s", "max_unpooling")
    assert model.output.shape == (None, 64, 64, 3)
