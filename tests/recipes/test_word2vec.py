import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("word2vec")

CHANCE = 19 / 99  # a noun's 10 neighbours among 99 other nouns, 19 of its category


def test_smoke_run_scores_vectors_against_the_generator(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out,
                 "--variants", "skipgram_hierarchical", "cbow_negative"])
    metrics = read_run(out)
    test = metrics["test"]
    assert set(test) == {f"{metric}_{variant}"
                         for metric in ("analogy_accuracy", "neighbor_precision", "spearman")
                         for variant in ("skipgram_hierarchical", "cbow_negative", "lsa")}
    # 50 noun lemmas and 20 verbs give 50*49 + 20*19 ordered analogy questions.
    assert metrics["analogy_questions"] == 50 * 49 + 20 * 19
    # Counts of 600 sentences already put nouns near their category (far above chance).
    assert test["neighbor_precision_lsa"] > 2 * CHANCE
    assert test["spearman_lsa"] > 0.2
    assert test["neighbor_precision_skipgram_hierarchical"] > CHANCE
    assert plots_written(out) == ["noun_projection.png", "training_curves.png"]


def test_real_text_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "tiny_shakespeare", "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "generator's truth" in capsys.readouterr().err
