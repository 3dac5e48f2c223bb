"""The seq2seq recipe's smoke run: the three variants on one table, attention maps scored."""

import os

import pytest
from classification_recipes import load_recipe

seq2seq = load_recipe("seq2seq")


def test_smoke_run(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    metrics = seq2seq.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    rows = {row["model"]: row for row in metrics["variants"]}
    assert list(rows) == ["no_attention", "bahdanau", "luong"]
    assert "alignment_accuracy" not in rows["no_attention"]
    # After one epoch on 256 dates the decoder already emits more than chance (1 in 44) right.
    assert rows["luong"]["token_accuracy_teacher_forced"] > 0.1
    assert metrics["test"]["exact_match_luong"] == rows["luong"]["exact_match_greedy"]
    assert os.path.exists(os.path.join(out, "plots", "attention.png"))


def test_other_datasets_are_refused_before_writing(tmp_path):
    with pytest.raises(SystemExit) as error:
        seq2seq.main(["--dataset", "kerasnn_digits", "--output-dir", str(tmp_path / "run")])
    assert error.value.code == 2 and not (tmp_path / "run").exists()
