"""Distributed tuner searches (issue 22, part 1): a chief and two workers on a loopback port.

Each search runs ``tests/distributed_recipe.py``: the workers as subprocesses (each with its own
Keras session, as on other machines), the chief in this process (in a thread, so a timeout can
end the test), and the same search in one process for comparison. Every wait is bounded and
every process started here is killed at the end of its test.
"""

import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from kerasnn import tuning

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(ROOT, "tests", "distributed_recipe.py")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import distributed_recipe  # noqa: E402

TIMEOUT = 240  # seconds any one search may take on a busy 2-core machine
TIMINGS = ("wall_seconds", "epoch_seconds")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def role_environment(tuner_id, port):
    return {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(port)}


@pytest.fixture
def processes():
    """Start worker subprocesses running ``searches`` ([(port, argv), ...]) in turn; all of them
    are killed when the test ends."""
    started = []

    def start(tuner_id, searches, log, pause=None):
        env = {**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1",
               **role_environment(tuner_id, searches[0][0]),
               "KERASNN_TEST_SEARCHES": json.dumps(searches)}
        env.pop("KERASNN_TEST_PAUSE", None)
        if pause:
            env["KERASNN_TEST_PAUSE"] = str(pause)
        with open(log, "w") as output:
            process = subprocess.Popen([sys.executable, RECIPE], env=env, cwd=ROOT,
                                       stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def in_thread(function, *args):
    """Run ``function(*args)`` in a daemon thread; ``result()`` waits up to ``TIMEOUT``."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # SystemExit included: the recipe's exit status
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def result():
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the chief did not finish in time"
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


def chiefs(searches):
    """Run the chief of each search in turn (this process's environment names its port)."""
    results = []
    for port, argv in searches:
        os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
        results.append(distributed_recipe.main(argv))
    return results


def worker_sections(process):
    """``{output dir: (trial lines {id: printed score}, final line)}`` of a worker's searches."""
    process.wait(TIMEOUT)
    with open(process.log) as file:
        lines = file.read().strip().splitlines()
    assert process.returncode == 0, "\n".join(lines[-30:])
    sections, trials = {}, {}
    for line in lines:
        match = re.match(r"trial (\d+): (\S+) \(", line)
        if match:
            trials[match[1]] = match[2]
        elif line.startswith("worker "):
            sections[line.rsplit(" ", 1)[1]] = (trials, line)
            trials = {}
    return sections


def ordered(metrics):
    """The trials of a search in id order (id, score, status, hyperparameter values)."""
    return sorted(metrics["trials"], key=lambda row: row["trial"])


SEARCHES = [
    ["--tuner", "random", "--max-trials", "3"],  # a worker is killed mid-trial and restarted
    ["--tuner", "hyperband", "--epochs", "3"],
    ["--tuner", "random", "--max-trials", "2", "--folds", "2"],  # the k-fold tuner
]


def test_distributed_searches_equal_one_process(tmp_path, monkeypatch, processes):
    ports = []
    while len(ports) < len(SEARCHES):
        port = free_port()
        ports += [port] if port not in ports else []
    outs = [tmp_path / f"search{index}" for index in range(len(SEARCHES))]
    searches = [(port, [*argv, "--output-dir", str(out)])
                for port, argv, out in zip(ports, SEARCHES, outs)]
    pause = tmp_path / "paused"
    w1 = processes("w1", searches, tmp_path / "w1.log", pause)
    w2 = processes("w2", searches, tmp_path / "w2.log")
    gc.freeze()  # each trial's clear_session collects the trial's objects, not TensorFlow's
    try:
        single = [distributed_recipe.main([*argv, "--output-dir", str(tmp_path / f"single{i}")])
                  for i, argv in enumerate(SEARCHES)]
        for name, value in role_environment("chief", ports[0]).items():
            monkeypatch.setenv(name, value)
        distributed = in_thread(chiefs, searches)
        deadline = time.time() + TIMEOUT
        while not (pause.exists() and pause.read_text()) and time.time() < deadline:
            time.sleep(0.1)
        killed_trial = pause.read_text()
        os.killpg(w1.pid, signal.SIGKILL)  # mid-trial (it sleeps in its first trial's fit)
        w1.wait()
        w1_again = processes("w1", searches, tmp_path / "w1-again.log", pause)
        distributed = distributed()
        trial_dirs = [sorted(os.listdir(project(index, out))) for index, out in enumerate(outs)]
        reruns = in_thread(chiefs, searches)()  # a finished search serves nobody, adds nothing
    finally:
        gc.unfreeze()
    ran = {"w1": worker_sections(w1_again), "w2": worker_sections(w2)}
    # The restarted worker finished the trial it was killed in. That is in the first search
    # unless w2 ran all of that search's trials first (seen under load): the killed worker's log
    # ends each search it finished with a "worker ..." line, so it was paused in the next one.
    with open(w1.log) as file:
        paused_search = sum(line.startswith("worker ") for line in file)
    assert killed_trial in ran["w1"][str(outs[paused_search])][0]
    for index, (out, metrics) in enumerate(zip(outs, distributed)):
        ids = [row["trial"] for row in metrics["trials"]]
        # Each trial ended once, completed, on one worker, which printed the chief's score.
        assert {row["status"] for row in metrics["trials"]} == {"COMPLETED"}
        by_worker = {}
        for name in ran:
            trials, line = ran[name][str(out)]
            assert re.fullmatch(rf"worker {name}: the search is over \(this worker ran trials: "
                                rf"[\w, ]+\); the chief writes the results to {out}", line)
            by_worker[name] = trials
        assert not by_worker["w1"].keys() & by_worker["w2"].keys()
        printed = {**by_worker["w1"], **by_worker["w2"]}
        assert sorted(printed) == sorted(ids)
        assert printed == {row["trial"]: f"{row['score']:.4g}" for row in metrics["trials"]}
        state = json.loads((project(index, out) / "oracle.json").read_text())
        assert sorted(state["end_order"]) == sorted(ids)
        assert state["ongoing_trials"] == {} and state["retry_queue"] == []
        # The same trials (ids, values, scores) as the search in one process.
        assert ordered(metrics) == ordered(single[index])
        assert sorted(ids) == [f"{i:0{len(ids[0])}d}" for i in range(len(ids))]
        assert ordered(reruns[index]) == ordered(metrics)
        assert sorted(os.listdir(project(index, out))) == trial_dirs[index]
    assert [len(metrics["trials"]) for metrics in distributed] == [3, 6, 2]
    # Hyperband (max_epochs 3, factor 3): 3 one-epoch models, the best warm-started to 3 epochs,
    # 2 more of 3 epochs; workers back off on IDLE (KerasTuner asks ~400 times a second).
    assert sum(row["tuner/round"] == 1 for row in distributed[1]["trials"]) == 1
    hyperband = json.loads((project(1, outs[1]) / "oracle.json").read_text())
    assert hyperband["kerasnn"]["idle_answers"] < 60


def project(index, out):
    """The KerasTuner project directory of search ``index`` in ``out``."""
    return out / "tuner" / ("cross_validation" if "--folds" in SEARCHES[index] else "search")


# -- in-process: roles, refusals, a chief whose trials keep failing ---------------------------


@pytest.mark.parametrize("environ, message", [
    ({"KERASTUNER_TUNER_ID": "w1"},
     "a distributed search needs KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, "
     "KERASTUNER_ORACLE_PORT; KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT are not set"),
    ({**role_environment("w1", 1), "KERASTUNER_ORACLE_PORT": "http"},
     "KERASTUNER_ORACLE_PORT must be a port number (1-65535), received 'http'"),
    (role_environment("chief-2", 1),
     "KERASTUNER_TUNER_ID 'chief-2' contains 'chief', which KerasTuner takes for a second "
     "chief; name the chief exactly 'chief' and workers without it (e.g. worker0)"),
])
def test_role_errors(environ, message):
    with pytest.raises(tuning.DistributedSetupError) as error:
        tuning.distributed_role(environ)
    assert str(error.value) == message


def test_roles():
    assert tuning.distributed_role({}) == tuning.Role("single")
    assert tuning.distributed_role(role_environment("chief", 8000)) == tuning.Role(
        "chief", "chief", "127.0.0.1:8000")
    assert tuning.distributed_role(role_environment("gpu-3", 8000)).kind == "worker"
    assert list(zip(range(7), tuning.idle_delays())) == [
        (0, 0.05), (1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (6, 1.0)]


@pytest.mark.parametrize("tuner_id, argv, message", [
    ("w1", ["--overwrite"], "error: --overwrite on worker w1 would delete the search the chief "
                            "serves; pass it to the chief only"),
    ("w1", ["--tuner", "none"], "error: KERASTUNER_TUNER_ID=w1 asks for a distributed search, "
                                "but --tuner is none"),
    ("w1", ["--epochs", "3"], "error: worker w1 has other settings than the chief's run in "
                              "{out} (epochs: 2 (chief) -> 3)"),
])
def test_worker_refusals_exit_2_before_writing(tmp_path, monkeypatch, capsys, tuner_id, argv,
                                               message):
    out = tmp_path / "run"
    out.mkdir()
    (out / "settings.json").write_text(json.dumps({
        "dataset": "toy", "epochs": 2, "batch_size": 16, "tuner": "random", "max_trials": 4,
        "distribute": "none", "seed": 0, "smoke": False, "folds": 0}))
    for name, value in role_environment(tuner_id, free_port()).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        distributed_recipe.main(["--output-dir", str(out), *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == message.format(out=out)
    assert os.listdir(out) == ["settings.json"]


def test_a_chief_whose_trials_keep_failing_stops_and_exits_1(tmp_path, monkeypatch, capsys):
    from keras_tuner.src.distribute import oracle_client

    port = free_port()
    for name, value in role_environment("chief", port).items():
        monkeypatch.setenv(name, value)
    chief = in_thread(distributed_recipe.main, ["--output-dir", str(tmp_path), "--max-trials",
                                                "9"])
    worker = oracle_client.OracleClient(None)  # a worker whose every trial fails
    for _ in range(3):
        trial = worker.create_trial("w1")
        trial.status = "FAILED"
        trial.message = "Traceback (most recent call last):\nRuntimeError: out of luck\n"
        worker.end_trial(trial)
    assert worker.create_trial("w1").status == "STOPPED"
    with pytest.raises(SystemExit) as exit_info:
        chief()
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: the search stopped: number of consecutive failures exceeded the limit of 3; "
        "the failed trials' errors are in their workers' output"]
