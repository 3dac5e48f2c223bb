"""
Title: Grad-CAM and Augmented Grad-CAM: explaining any CNN, at full resolution
Course section: "GAP, Localization and CNN Explanations" ("Grad-CAM", "Augmented Grad-CAM")
Description: Grad-CAM weighs the last convolutional feature maps f_k by the averaged gradients of
the class score, alpha_k^c = (1/Z) sum_{x,y} dy^c/df_k(x, y), and keeps L^c = ReLU(sum_k
alpha_k^c f_k). On a GAP network it is CAM up to a positive scale (measured here); unlike CAM it
also explains a VGG-style network whose head flattens the maps. Augmented Grad-CAM super-resolves
the coarse map from L randomly rotated and translated copies of the image: h* = argmin_h 1/2
sum_l ||D A_l h - g_l||^2 + lambda TV(h) + mu/2 ||h||^2, by subgradient descent. Both maps are
scored against the object masks (thresholded-map IoU and the pointing game); lambda, mu and L are
chosen by a grid on validation images.
How to run:
    python recipes/grad_cam.py                     # kerasnn_shapes/classify, offline, ~3 minutes
    python recipes/grad_cam.py --explain-images 300 --steps 200
    python recipes/grad_cam.py --smoke             # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import itertools

import numpy as np

from kerasnn import cli, explain, models, plots, recipe

# The grid of the super-resolution's settings (lambda, mu, L), scored on validation images.
GRID = {"tv_weight": (0.003, 0.03), "l2_weight": (0.001, 0.01), "num_augmentations": (8, 16)}


def flags(parser):
    parser.add_argument(
        "--explain-images",
        type=cli.positive_int,
        default=100,
        help="test images explained by both Grad-CAMs (default: 100)",
    )
    parser.add_argument(
        "--grid-images",
        type=cli.positive_int,
        default=16,
        help="validation images scoring each grid point (default: 16)",
    )
    parser.add_argument(
        "--steps",
        type=cli.positive_int,
        default=100,
        help="subgradient steps of the super-resolution (default: 100)",
    )


def smoke(args):
    args.explain_images, args.grid_images, args.steps = 8, 4, 10


def make_build_model(input_shape, num_classes, architecture):
    """The GAP network or the VGG-style one (same 3x3 convolution blocks, Flatten -> FC head)."""

    def build_model(hp):
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=3e-3)
        model = models.gap_classifier(input_shape, num_classes, head=architecture)
        return recipe.compile_classifier(model, learning_rate)

    return build_model


# ## Augmented Grad-CAM, image by image
#
# Each image gets its own L augmentations (`explain.augmented_grad_cam`); the maps are at the
# image's resolution, like the bilinearly upsampled plain Grad-CAM they are compared with.


def augmented_maps(model, layer, images, steps, settings, seed=0):
    results = [
        explain.augmented_grad_cam(
            model, image, layer=layer, steps=steps, seed=seed + i, **settings
        )
        for i, image in enumerate(images)
    ]
    return np.stack([r.heatmap for r in results]), results


def mask_scores(maps, masks, threshold):
    return {
        "mask_iou": float(explain.heatmap_mask_iou(maps, masks, threshold).mean()),
        "pointing_accuracy": float(explain.pointing_game(maps, masks=masks).mean()),
    }


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def plot_objective(objectives, path):
    plt = plots.pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.plot(objectives)
    axis.set_xlabel("subgradient step")
    axis.set_ylabel("objective")
    axis.set_yscale("log")
    axis.set_title("Augmented Grad-CAM super-resolution objective")
    return plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run(
        "grad_cam",
        __doc__,
        argv,
        dataset="kerasnn_shapes/classify",
        epochs=10,
        batch_size=64,
        tuner="none",
        max_trials=4,
        flags=flags,
        smoke=smoke,
    )
    spec = run.spec
    train, validation = run.splits(("train", "validation"))
    validation_arrays, test_arrays = run.localization_arrays(("validation", "test"))
    if test_arrays["mask"] is None:
        raise cli.UserError(
            f"--dataset {run.args.dataset} has no object masks (`mask`) to "
            "score the heatmaps against"
        )
    input_shape = test_arrays["image"].shape[1:]
    run.open()

    # ## Two networks: GAP (CAM works) and VGG-style with a Flatten head (CAM cannot)
    hp = run.search(
        make_build_model(input_shape, spec.num_classes, "flatten"),
        train,
        validation_data=validation,
    )
    networks, rows = {}, []
    for architecture in ("gap", "flatten"):
        model = make_build_model(input_shape, spec.num_classes, architecture)(hp)
        run.fit(architecture, model, train, validation_data=validation)
        networks[architecture] = model
        _, accuracy = model.evaluate(test_arrays["image"], test_arrays["label"], verbose=0)
        rows.append(
            {
                "network": architecture,
                "params": model.count_params(),
                "test_accuracy": float(accuracy),
            }
        )
    images, masks = test_arrays["image"], test_arrays["mask"]

    # ## Grad-CAM on the GAP network is CAM up to the positive scale 1/Z
    gap = networks["gap"]
    grad_maps = explain.grad_cam(gap, images, "features", upsample_to_image=False)
    cam_maps = np.maximum(explain.cam(gap, images, upsample_to_image=False), 0.0)
    cam_correlation = correlation(grad_maps, cam_maps)
    print(f"Grad-CAM vs ReLU(CAM) on the GAP network: correlation {cam_correlation:.6f}")
    try:
        explain.cam(networks["flatten"], images[:1])
    except ValueError as error:  # what the notes say: CAM needs GAP -> FC
        print(f"CAM on the Flatten network: {str(error).split(';')[0]}")

    # ## Grad-CAM on the Flatten network, plain and augmented
    flat_net, layer = networks["flatten"], "features"
    thresholds = {}
    for row, model, name in zip(rows, (gap, flat_net), ("features", layer)):
        maps = explain.grad_cam(model, images, name)
        threshold, _ = explain.choose_threshold(
            explain.heatmap_mask_iou,
            explain.grad_cam(model, validation_arrays["image"], name),
            validation_arrays["mask"],
        )
        thresholds[row["network"]] = threshold
        row.update({f"grad_cam_{k}": v for k, v in mask_scores(maps, masks, threshold).items()})
    grid_images = validation_arrays["image"][: run.args.grid_images]
    grid_masks = validation_arrays["mask"][: run.args.grid_images]
    grid = []
    for values in itertools.product(*GRID.values()):
        settings = dict(zip(GRID, values))
        maps, _ = augmented_maps(
            flat_net, layer, grid_images, run.args.steps, settings, seed=10_000
        )
        threshold, means = explain.choose_threshold(explain.heatmap_mask_iou, maps, grid_masks)
        grid.append({**settings, "threshold": threshold, "validation_mask_iou": means[threshold]})
    recipe.table(grid)
    best = max(grid, key=lambda row: row["validation_mask_iou"])
    settings = {key: best[key] for key in GRID}

    count = min(run.args.explain_images, len(images))
    plain = explain.grad_cam(flat_net, images[:count], layer)
    plain_threshold = thresholds["flatten"]
    augmented, results = augmented_maps(flat_net, layer, images[:count], run.args.steps, settings)
    scores = {
        "grad_cam": mask_scores(plain, masks[:count], plain_threshold),
        "augmented_grad_cam": mask_scores(augmented, masks[:count], best["threshold"]),
    }
    recipe.table(rows)
    recipe.table(
        [{"method": method, "images": count, **values} for method, values in scores.items()]
    )

    # ## Figures: the objective and the maps side by side
    plot_objective(
        np.mean([r.objectives for r in results], axis=0), run.plot_path("augmented_objective")
    )
    shown = np.arange(min(8, count))
    plain_iou = explain.heatmap_mask_iou(plain[shown], masks[shown], plain_threshold)
    augmented_iou = explain.heatmap_mask_iou(augmented[shown], masks[shown], best["threshold"])
    plots.plot_heatmap_overlays(
        np.concatenate([images[shown]] * 3),
        np.concatenate([plain[shown], augmented[shown], masks[shown].astype("float32")]),
        run.plot_path("grad_cam_side_by_side"),
        columns=len(shown),
        titles=[f"Grad-CAM {v:.2f}" for v in plain_iou]
        + [f"augmented {v:.2f}" for v in augmented_iou]
        + ["mask"] * len(shown),
        title="Grad-CAM (top), Augmented Grad-CAM (middle), object mask; titles: mask IoU",
    )
    test = {
        f"{method}_{key}": value
        for method, values in scores.items()
        for key, value in values.items()
    }
    test["grad_cam_cam_correlation"] = cam_correlation
    return run.finish(
        test=test,
        model=flat_net,
        networks=rows,
        grid=grid,
        augmented_settings=settings,
        thresholds={"grad_cam": plain_threshold, "augmented_grad_cam": best["threshold"]},
    )


if __name__ == "__main__":
    main()
