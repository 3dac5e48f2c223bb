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
    # 600 sentences and one epoch: above chance already (a shuffled vocabulary scores CHANCE,
    # and 3CosAdd guesses among 169 words).
    assert test["neighbor_precision_lsa"] > 1.4 * CHANCE
    assert test["neighbor_precision_skipgram_hierarchical"] > CHANCE
    assert test["analogy_accuracy_lsa"] > 5 / 169
    assert test["spearman_lsa"] > 0.1 and test["spearman_skipgram_hierarchical"] > 0.1
    assert plots_written(out) == ["noun_projection.png", "training_curves.png"]


def test_real_text_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "tiny_shakespeare", "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "generator's truth" in capsys.readouterr().err
