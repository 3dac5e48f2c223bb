"""The U-Net recipe: a smoke run whose test figures the saved model reproduces, and bad flags."""

import os

import keras
import numpy as np
import pytest
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

from kerasnn import data, losses, metrics

recipe = load_recipe("unet")


def test_smoke_run_figures_follow_from_the_saved_model(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    run = read_run(out)
    test = run["test"]
    assert set(test) == {"miou_unweighted", "miou_weighted", "boundary_iou_unweighted",
                         "boundary_iou_weighted", "separated_unweighted", "separated_weighted"}
    assert [row["w0"] for row in run["table"]] == [0.0, 10.0] and run["sigma"] == 5.0
    # the saved (weighted) model on the smoke test split gives the reported figures
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    features = data.feature_arrays(
        data.load("kerasnn_shapes/segment", "test[:64]", data_dir=tfds_data_dir,
                  supervised=False, batch_size=1),
        keys=("image", "mask", "instances"))
    instances, masks = losses.separate_touching(features["instances"][..., 0],
                                                features["mask"][..., 0])
    predictions = model.predict(features["image"], verbose=0).argmax(-1)
    confusion = metrics.segmentation_confusion_matrix(masks, predictions, 4)
    assert test["miou_weighted"] == pytest.approx(metrics.mean_iou(confusion), abs=1e-6)
    band = metrics.boundary_band_iou(masks, predictions, 4, 2.0, instances)
    assert test["boundary_iou_weighted"] == pytest.approx(band, abs=1e-6)
    separated, pairs = metrics.separated_objects(features["instances"][..., 0],
                                                 features["mask"][..., 0], predictions)
    assert (test["separated_weighted"], run["touching_pairs"]) == (separated, pairs) and pairs > 0
    # w_c: one positive weight per class (all four occur in the smoke training masks)
    assert len(run["class_weights"]) == 4 and np.all(np.array(run["class_weights"]) > 0)
    assert plots_written(out) == ["predictions.png", "training_curves.png"]


@pytest.mark.parametrize("flags", [["--sigma", "0"], ["--band-radius", "-1"]])
def test_bad_flags_exit_2(flags, tmp_path, tfds_data_dir):
    assert_exits_2(recipe.main, flags, tfds_data_dir, tmp_path / "bad")


def test_the_search_weighs_each_trial_with_its_own_w0_and_sigma():
    import keras_tuner

    hypermodel = recipe.WeightedUNet((16, 16, 3), 3, np.array([0.5, 2.0, 3.0]), 10.0, 5.0)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    assert {"depth", "filters", "learning_rate", "w0", "sigma"} <= set(hp.values)
    assert (hp["w0"], hp["sigma"]) == (10.0, 5.0)  # the defaults are the flags (the paper's)
    hp.values.update(w0=20.0, sigma=3.0)  # a trial's values

    class Recorder:
        def fit(self, x, y, **kwargs):
            self.kwargs = kwargs

    instances = np.zeros((2, 16, 16), int)
    instances[:, 2:6, 2:6], instances[:, 2:6, 7:11] = 1, 2  # two objects, a 1-pixel gap
    masks = (instances > 0).astype(int)
    model = Recorder()
    hypermodel.fit(hp, model, np.zeros((2, 16, 16, 3)), masks, instances,
                   validation_data=(np.zeros((2, 16, 16, 3)), masks, instances), epochs=1)
    expected = losses.unet_weight_map(instances, masks, np.array([0.5, 2.0, 3.0]), w0=20.0,
                                      sigma=3.0)
    np.testing.assert_allclose(model.kwargs["sample_weight"], expected)
    np.testing.assert_allclose(model.kwargs["validation_data"][2], expected)
    assert expected[0, 4, 6] > 10  # the gap between the objects carries the trial's w0 = 20
