"""The chatbot recipe's smoke run, then its chat on piped questions; bad flags refused before
anything is written."""

import io

import pytest
from classification_recipes import load_recipe

chatbot_recipe = load_recipe("chatbot")

QUESTIONS = "what is the weather in rome today?\n\nqwerty uiop\nand tomorrow?\n"


def test_smoke_run_then_chat_on_piped_questions(tmp_path, tfds_data_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(QUESTIONS))
    metrics = chatbot_recipe.main(["--smoke", "--chat", "--data-dir", tfds_data_dir,
                                   "--output-dir", str(tmp_path / "run")])
    rows = {(row["chatbot"], row["context"]): row for row in metrics["chatbots"]}
    assert list(rows) == [("tfidf", "single-turn"), ("dual_encoder", "single-turn"),
                          ("tfidf", "multi-turn"), ("dual_encoder", "multi-turn"),
                          ("dual_encoder_hierarchical", "turns"),
                          ("transformer", "single-turn"), ("transformer", "multi-turn")]
    test = metrics["test"]
    assert test["recall_at_1_tfidf"] == rows["tfidf", "multi-turn"]["recall_at_1"]
    # TF-IDF needs no training: well above chance (1 in 10) even on the smoke run's 128 tests
    assert test["recall_at_1_tfidf"] > 0.4
    # a retrieval base of training answers never holds a held-out slot value
    assert rows["tfidf", "multi-turn"]["held_out_slot_accuracy"] == 0.0
    for key in ("recall_at_1_dual_encoder", "slot_accuracy_generative",
                "followup_accuracy_single_turn", "followup_accuracy_multi_turn"):
        assert 0.0 <= test[key] <= 1.0
    out = capsys.readouterr().out
    chat = out[out.index("chat: one question per line"):].splitlines()[1:]
    # one line per question, the refusals said in words, and the chat goes on after them
    assert len(chat) == 4 and chat[0].startswith("bot: ") and chat[3].startswith("bot: ")
    assert chat[1] == "error: A question must hold at least one word. Received: ''"
    assert chat[2] == ("error: The question must hold at least one word the chatbot knows "
                       "(unknown words are only copied). Received: 'qwerty uiop'")


@pytest.mark.parametrize("argv", [["--dataset", "kerasnn_digits"],
                                  ["--model-dim", "10", "--num-heads", "4"],
                                  ["--copy-rate", "1.5"]])
def test_bad_settings_are_refused_before_writing(tmp_path, argv):
    with pytest.raises(SystemExit) as error:
        chatbot_recipe.main(argv + ["--output-dir", str(tmp_path / "run")])
    assert error.value.code == 2 and not (tmp_path / "run").exists()
