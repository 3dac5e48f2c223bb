import time

import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("language_models")


def test_smoke_run_scores_every_model_against_the_oracle(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    test = metrics["test"]
    vocabulary_size = metrics["vocabulary_size"]
    assert vocabulary_size == 172
    assert 5.0 < test["perplexity_oracle"] < 15.0
    # Maximum likelihood meets unseen bigrams in the test split: infinite perplexity.
    assert test["perplexity_2gram_ml"] == float("inf")
    # Every model beats the uniform model (perplexity |V|), and context helps the n-grams.
    for smoothing in ("add_k", "katz", "kneser_ney"):
        assert test[f"perplexity_2gram_{smoothing}"] < test[f"perplexity_1gram_{smoothing}"]
        assert test[f"perplexity_2gram_{smoothing}"] > test["perplexity_oracle"]
    assert test["perplexity_1gram_kneser_ney"] < vocabulary_size
    assert test["perplexity_oracle"] < test["perplexity_nnlm"] < vocabulary_size
    assert test["perplexity_oracle"] < test["perplexity_rnn_lm"] < vocabulary_size
    assert [row["sentences"] for row in metrics["sizes"]] == [133, 400]
    assert metrics["complexity"][0]["params"] == 500 * 30 + 64 * 4 * 30 + 64 + 64 * 500 + 500
    assert all(row["model"] in ("rnn_lm", "3gram_kneser_ney") for row in metrics["samples"])
    assert plots_written(out) == ["perplexity_vs_data.png", "training_curves.png"]


def test_online_corpora_fail_fast_offline(tmp_path, tfds_data_dir, capsys, monkeypatch):
    monkeypatch.setenv("KERASNN_OFFLINE", "1")
    started = time.time()
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "tiny_shakespeare", "--data-dir", tfds_data_dir,
                     "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2 and time.time() - started < 10
    assert "kerasnn_grammar/small" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
