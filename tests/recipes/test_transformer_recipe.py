"""The transformer recipe's smoke run: three translators on one table, the cache timed, the LM
scored against the oracle, and bad flags refused before anything is written."""

import os

import pytest
from classification_recipes import load_recipe

from kerasnn.data.builders import dates

transformer_recipe = load_recipe("transformer")


def test_smoke_run(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    metrics = transformer_recipe.main(["--smoke", "--data-dir", tfds_data_dir,
                                       "--output-dir", out])
    rows = {row["model"]: row for row in metrics["variants"]}
    assert list(rows) == ["transformer", "transformer_without_positional_encoding",
                          "lstm_luong_attention"]
    # the positional encoding adds no weight: the ablation changes only what the model sees
    assert rows["transformer"]["params"] == rows["transformer_without_positional_encoding"][
        "params"]
    # one epoch on 256 dates: already above chance (1 in 44) per character
    assert rows["transformer"]["token_accuracy"] > 2 / len(dates.VOCABULARY)
    test = metrics["test"]
    assert test["exact_match_transformer"] == rows["transformer"]["exact_match_greedy"]
    assert metrics["cached_equals_uncached"] is True and metrics["timed_length"] == 32
    assert test["ms_per_sequence_cached"] > 0 and test["ms_per_sequence_uncached"] > 0
    lm = metrics["language_model"]
    # better than the uniform model over the 172 words, never better than the oracle
    assert lm["oracle"] < test["perplexity_transformer_lm"] < 172 / 2
    assert os.path.exists(os.path.join(out, "plots", "attention_heads.png"))


@pytest.mark.parametrize("argv", [["--dataset", "kerasnn_digits"],
                                  ["--model-dim", "10", "--num-heads", "4"]])
def test_bad_settings_are_refused_before_writing(tmp_path, argv):
    with pytest.raises(SystemExit) as error:
        transformer_recipe.main(argv + ["--output-dir", str(tmp_path / "run")])
    assert error.value.code == 2 and not (tmp_path / "run").exists()
