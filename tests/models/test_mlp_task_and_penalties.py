"""``models.mlp``'s weight-decay norms against NumPy, and ``models.task_mlp``'s heads."""

import numpy as np
import pytest
from keras import ops

from kerasnn import data, models


@pytest.mark.parametrize("norm, penalty", [("l2", np.square), ("l1", np.abs)])
def test_weight_decay_penalty_is_gamma_times_the_norm_of_every_kernel(norm, penalty):
    gamma = 1e-2
    model = models.mlp((3,), 2, hidden_units=(4,), weight_decay=gamma, weight_decay_norm=norm)
    kernels = [layer.get_weights()[0] for layer in model.layers if layer.name in ("hidden_0",
                                                                                    "output")]
    expected = sum(gamma * penalty(kernel).sum() for kernel in kernels)
    model(np.zeros((1, 3), "float32"))
    assert float(sum(ops.convert_to_numpy(loss) for loss in model.losses)) == pytest.approx(
        expected, rel=1e-5)


def test_weight_decay_norm_must_be_l1_or_l2():
    with pytest.raises(ValueError, match="Argument `weight_decay_norm` must be one of 'l1', 'l2'"):
        models.mlp((3,), 2, weight_decay=1e-3, weight_decay_norm="l3")


@pytest.mark.parametrize(
    "task, num_classes, units, activation, loss, metric",
    [("regression", 1, 1, "linear", "mean_squared_error", "mean_squared_error"),
     ("binary", 2, 1, "sigmoid", "binary_crossentropy", "accuracy"),
     ("categorical", 5, 5, "softmax", "sparse_categorical_crossentropy", "accuracy")],
)
def test_task_mlp_head_loss_and_metric(task, num_classes, units, activation, loss, metric):
    model = models.task_mlp((2,), task, num_classes, hidden_units=(3,), optimizer="sgd",
                            steps_per_execution=4)
    output = model.get_layer("output")
    assert output.units == units and output.activation.__name__ == activation
    assert model.loss == loss and model.steps_per_execution == 4
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    y = np.arange(8) % num_classes if task != "regression" else x[:, :1]
    assert metric in model.evaluate(x, y, verbose=0, return_dict=True)


def test_from_splits_shuffles_only_the_training_part():
    x = np.arange(20, dtype="float32")[:, None]
    splits = {"train": (x, np.arange(20)), "validation": (x, np.arange(20))}
    train, validation = data.from_splits(splits, 20, seed=1)
    train_order = [next(iter(train))[1].numpy().tolist() for _ in range(2)]
    assert sorted(train_order[0]) == list(range(20)) and train_order[0] != list(range(20))
    assert next(iter(validation))[1].numpy().tolist() == list(range(20))
