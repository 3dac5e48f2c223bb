import numpy as np
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("nearest_neighbor")


def test_smoke_run(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    returned = recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    assert returned == metrics
    assert len(metrics["trials"]) == 1
    assert plots_written(out) == [
        "confusion_matrix.png",
        "training_curves.png",
        "validation_accuracy_vs_k.png",
    ]
    knn, linear = metrics["comparison"]
    assert knn["multiply_adds_per_image"] == 64 * 64
    assert linear["multiply_adds_per_image"] == 10 * 64
    # 1-NN storing 64 digits labels the first 64 test digits: 0.9375 measured (chance: 0.1).
    assert metrics["test"]["knn_accuracy"] >= 0.9
    assert knn["test_accuracy"] == metrics["test"]["knn_accuracy"]
    assert np.sum(metrics["confusion_matrix"]) == 64
    assert np.trace(metrics["confusion_matrix"]) == round(64 * metrics["test"]["knn_accuracy"])
    assert metrics["epoch_seconds"]["linear"] > 0


def test_one_nearest_neighbour_on_the_digits_and_the_grid_search_objective(tfds_data_dir):
    from kerasnn import data

    x_train, y_train = data.load_arrays("kerasnn_digits", "train", data_dir=tfds_data_dir)
    x_val, y_val = data.load_arrays("kerasnn_digits", "validation", data_dir=tfds_data_dir)
    x_test, y_test = data.load_arrays("kerasnn_digits", "test", data_dir=tfds_data_dir)
    hypermodel = recipe.NearestNeighborHyperModel(x_train, y_train, 10)
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.values == {"k": 1, "distance": "l2"}
    score = hypermodel.fit(hp, model, validation_data=(x_val, y_val))["val_accuracy"]
    assert score == np.mean(model.predict(x_val, verbose=0).argmax(-1) == y_val)
    # pixel-space 1-NN on the 8x8 digits is strong (scikit-learn's KNeighborsClassifier: 1.0 here)
    assert recipe.accuracy(model, x_test, y_test) >= 0.98
    # The control: the same images with shuffled labels vote for chance (0.1 for ten classes).
    shuffled = np.random.default_rng(0).permutation(y_train)
    control = recipe.NearestNeighborHyperModel(x_train, shuffled, 10).build(hp)
    assert recipe.accuracy(control, x_test, y_test) <= 0.2
