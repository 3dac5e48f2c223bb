"""
Title: Localization: a class and a box from one CNN, trained with a multitask loss
Course section: "GAP, Localization and CNN Explanations" ("Localization")
Description: One object per image: predict its label l and its bounding box. One convolutional
base feeds a class head (softmax, cross-entropy delta) and a box head (regression, R = ||box' -
box||_2), trained together with the single scalar L = alpha * delta + (1 - alpha) * R. The notes
warn that alpha "might be difficult to tune": a sweep over alpha shows the trade-off between
accuracy and box IoU. The notes' alternative is on the same table: train the two heads separately
on a pretrained base (the classifier's base, frozen, under a new box head), then fine-tune all.
How to run:
    python recipes/localization.py                   # kerasnn_shapes/classify, offline, ~3 minutes
    python recipes/localization.py --alphas 0.1,0.3,0.5,0.7,0.9
    python recipes/localization.py --tuner random --max-trials 6   # alpha searched with the rest
    python recipes/localization.py --smoke           # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, losses, metrics, models, plots, recipe

FILTERS = (16, 32, 64)


def flags(parser):
    parser.add_argument(
        "--alphas",
        default="0.2,0.5,0.8",
        help="alpha values of the sweep, comma-separated in [0, 1] (default: 0.2,0.5,0.8)",
    )
    parser.add_argument(
        "--image-size",
        type=cli.positive_int,
        default=None,
        help="resize images to this side (default: the stored size)",
    )


def parse_alphas(text):
    try:
        alphas = tuple(float(value) for value in text.split(","))
    except ValueError:
        alphas = ()
    if not alphas or not all(0.0 <= a <= 1.0 for a in alphas):
        raise cli.UserError(f"--alphas must be numbers in [0, 1], received {text!r}")
    return alphas


# ## One model, two outputs, one loss
#
# `losses.localization_compile_arguments(alpha)` gives Keras the cross-entropy for the "class"
# output and the box norm for the "box" output with loss weights alpha and 1 - alpha: Keras sums
# them, which is the notes' L. Boxes are the tfds normalized [ymin, xmin, ymax, xmax].


def compile_localizer(model, alpha, learning_rate):
    model.compile(
        keras.optimizers.Adam(learning_rate),
        **losses.localization_compile_arguments(alpha),
        metrics={"class": ["accuracy"], "box": [metrics.MeanBoxIoU()]},
    )
    return model


def make_build_model(input_shape, num_classes, alpha=None):
    """The hypermodel; ``alpha=None`` lets the tuner search alpha with the learning rate."""

    def build_model(hp):
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=3e-3)
        chosen = alpha if alpha is not None else hp.Float("alpha", 0.1, 0.9, default=0.5)
        model = models.localizer(input_shape, num_classes, filters=FILTERS)
        return compile_localizer(model, chosen, learning_rate)

    return build_model


# Tuner objective: validation accuracy + validation box IoU (KerasTuner sums a list).
OBJECTIVE = [
    keras_tuner.Objective("val_class_accuracy", "max"),
    keras_tuner.Objective("val_box_mean_box_iou", "max"),
]


def evaluate(model, arrays):
    outputs = model.predict(arrays["image"], verbose=0)
    predicted = outputs["class"].argmax(-1)
    ious = np.asarray(metrics.matched_box_iou(arrays["box"], outputs["box"]))
    return {
        "accuracy": float(np.mean(predicted == arrays["label"])),
        "mean_box_iou": float(ious.mean()),
        "localization_accuracy": metrics.localization_accuracy(
            arrays["label"], predicted, arrays["box"], outputs["box"]
        ),
    }, outputs


def targets(arrays):
    return {"class": arrays["label"], "box": arrays["box"]}


def set_base_trainable(model, trainable):
    """Freeze (or unfreeze) every layer of the base, i.e. every layer not of a head."""
    heads = ("class", "box")
    for layer in model.layers:
        if not layer.name.startswith(heads):
            layer.trainable = trainable


def plot_tradeoff(rows, path):
    plt = plots.pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.4))
    alphas = [row["alpha"] for row in rows]
    for key in ("accuracy", "mean_box_iou", "localization_accuracy"):
        axis.plot(alphas, [row[key] for row in rows], marker="o", label=key)
    axis.set_xlabel("alpha (weight of the class loss)")
    axis.set_ylabel("validation")
    axis.set_title("L = alpha CE + (1 - alpha) R: the trade-off", fontsize=10)
    axis.legend(fontsize=8)
    return plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run(
        "localization",
        __doc__,
        argv,
        dataset="kerasnn_shapes/classify",
        epochs=8,
        batch_size=64,
        tuner="none",
        max_trials=4,
        flags=flags,
    )
    alphas = parse_alphas(run.args.alphas)
    spec = run.spec
    train, validation, test = run.localization_arrays(image_size=run.args.image_size)
    input_shape = train["image"].shape[1:]
    run.open()
    fit_kwargs = dict(
        y=targets(train),
        batch_size=run.args.batch_size,
        shuffle=True,
        validation_data=(validation["image"], targets(validation)),
    )

    # ## The tuner searches alpha with the learning rate (--tuner; default: the sweep only)
    hp = run.search(
        make_build_model(input_shape, spec.num_classes),
        train["image"],
        objective=OBJECTIVE,
        **fit_kwargs,
    )
    learning_rate = hp.get("learning_rate")

    # ## The alpha sweep: one multitask model per alpha
    rows, trained = [], {}
    for alpha in alphas:
        model = make_build_model(input_shape, spec.num_classes, alpha)(hp)
        run.fit(f"alpha_{alpha:g}", model, train["image"], **fit_kwargs)
        trained[alpha] = model
        rows.append({"method": "multitask", "alpha": alpha, **evaluate(model, validation)[0]})
    if run.tuner is not None:
        model = make_build_model(input_shape, spec.num_classes)(hp)
        run.fit("tuned", model, train["image"], **fit_kwargs)
        trained["tuned"] = model
        rows.append({"method": "tuned", "alpha": hp.get("alpha"), **evaluate(model, validation)[0]})
    plot_tradeoff(
        [row for row in rows if row["method"] == "multitask"], run.plot_path("alpha_tradeoff")
    )

    # ## The notes' alternative: heads trained separately on a pretrained base, then fine-tuned
    #
    # 1. the classifier (alpha = 1: the box head gets no gradient) pretrains the base;
    # 2. the base frozen, only the box head trains (alpha = 0);
    # 3. everything fine-tunes with the multitask loss at a tenth of the learning rate.
    staged = make_build_model(input_shape, spec.num_classes, 1.0)(hp)
    run.fit("separate_1_classifier", staged, train["image"], **fit_kwargs)
    set_base_trainable(staged, False)
    staged.get_layer("class").trainable = False
    compile_localizer(staged, 0.0, learning_rate)
    run.fit("separate_2_box_head", staged, train["image"], **fit_kwargs)
    set_base_trainable(staged, True)
    staged.get_layer("class").trainable = True
    best_alpha = max(rows, key=lambda row: row["localization_accuracy"])["alpha"]
    compile_localizer(staged, best_alpha, learning_rate / 10)
    run.fit(
        "separate_3_fine_tune",
        staged,
        train["image"],
        epochs=max(1, run.args.epochs // 2),
        **fit_kwargs,
    )
    trained["separate"] = staged
    rows.append(
        {"method": "separate + fine-tune", "alpha": best_alpha, **evaluate(staged, validation)[0]}
    )

    # ## The model chosen on validation, on the test split
    best = max(rows, key=lambda row: row["localization_accuracy"])
    key = {"multitask": best["alpha"], "tuned": "tuned"}.get(best["method"], "separate")
    model = trained[key]
    test_figures, outputs = evaluate(model, test)
    for row in rows:
        row["chosen"] = row is best
    recipe.table(rows)
    shown = np.arange(16)
    size = np.array(test["image"].shape[1:3] * 2, np.float32)
    plots.plot_heatmap_overlays(
        test["image"][shown],
        np.zeros(test["image"].shape[:3], np.float32)[shown],
        run.plot_path("boxes"),
        alpha=0.0,
        boxes={"true box": test["box"][shown] * size, "predicted": outputs["box"][shown] * size},
        titles=[spec.class_names[p] for p in outputs["class"][shown].argmax(-1)],
        title=f"Predicted class and box ({best['method']}, alpha {best['alpha']:g})",
    )
    return run.finish(
        test=test_figures,
        model=model,
        validation=rows,
        chosen={"method": best["method"], "alpha": best["alpha"]},
        curves=("loss", "class_accuracy", "box_mean_box_iou"),
    )


if __name__ == "__main__":
    main()
