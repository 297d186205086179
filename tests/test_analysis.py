import json
import math
import os
import re
import shutil
import subprocess

import pytest

import sweepml
from sweepml.analysis import (
    leaderboard,
    models_per_hour,
    parameter_importance,
    prediction_optimum,
    result_entropy,
    robustness,
    write_report,
)
from sweepml.cli.main import main
from sweepml.exceptions import SweepmlError
from sweepml.storage import StudyInfo, open_storage
from sweepml.trial import TrialRecord, TrialStatus


def record(number, value, *, train=None, budget=None, start=0.0, end=1.0, status=TrialStatus.OK):
    metrics = {} if train is None else {"train_value": train}
    return TrialRecord(number, {"x": number}, status, value, metrics, budget=budget,
                       started_at=start, finished_at=end)  # fmt: skip


def test_result_entropy_is_zero_for_alike_results_and_one_for_an_even_spread():
    assert result_entropy([0.8, 0.8, 0.8]) == 0.0
    assert result_entropy([0.91, 0.92, 0.95]) == 0.0  # one bin of [0, 1]
    assert result_entropy([0.05, 0.15, 0.25, 0.35]) == pytest.approx(1.0)
    assert 0 < result_entropy([0.1, 0.1, 0.1, 0.9]) < 1
    # not all in [0, 1]: the bins span the values' own range; two land in the first bin
    expected = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(3)
    assert result_entropy([5.0, 50.0, 500.0], bins=3) == pytest.approx(expected)


def test_prediction_optimum_is_value_times_generality():
    trials = [record(0, 0.90, train=0.99), record(1, 0.88, train=0.89), record(2, 0.95)]
    optimum, best, how = prediction_optimum(trials, "maximize")
    assert optimum == pytest.approx(0.88 * (1 - 0.01)) and best.number == 1
    assert "over 2 trials" in how
    assert prediction_optimum(trials, "minimize")[0] is None
    assert prediction_optimum([record(0, 0.9)], "maximize")[2].startswith("no trial reported")
    assert prediction_optimum([record(0, 3.0, train=3.0)], "maximize")[0] is None


def test_robustness_flags_a_lead_within_noise_and_a_big_train_gap():
    close = [record(i, v, train=v + 0.01) for i, v in enumerate([0.901, 0.900, 0.85, 0.80, 0.75])]
    check = robustness(close, "maximize")
    assert check.margin == pytest.approx(0.001) and check.spread == pytest.approx(0.151)
    assert any("within the scatter" in w for w in check.warnings)
    gap = [record(0, 0.95, train=1.0)] + [
        record(i, 0.95 - 0.05 * i, train=0.95 - 0.05 * i + 0.01) for i in range(1, 5)
    ]
    check = robustness(gap, "maximize")
    assert check.winner_gap == pytest.approx(0.05)
    assert any("train-validation gap" in w for w in check.warnings)
    clear = [record(i, v) for i, v in enumerate([0.99, 0.80, 0.79, 0.78])]
    assert robustness(clear, "maximize").warnings == ()


def test_models_per_hour_counts_busy_time_only():
    trials = [record(0, 1, start=0, end=10), record(1, 1, start=5, end=20),
              record(2, 1, start=1000, end=1010)]  # fmt: skip
    assert models_per_hour(trials) == pytest.approx(3 / (30 / 3600))


def test_leaderboard_and_best_put_the_largest_budget_first():
    study = sweepml.minimize(lambda c, budget: c["x"] + 1 / budget, {"x": sweepml.Float(0, 1)},
                             strategy=sweepml.Hyperband(min_budget=1, max_budget=9),
                             n_trials=30, seed=0)  # fmt: skip
    board = leaderboard(study, top=None)
    assert board["budget"].iloc[0] == 9
    assert list(board["budget"]) == sorted(board["budget"], reverse=True)
    assert study.best.budget == 9 and board["trial"].iloc[0] == study.best.number


def test_parameter_importance_finds_the_parameter_that_matters():
    space = {"x": sweepml.Float(-1, 1), "y": sweepml.Float(-1, 1), "kind": ["a", "b"]}
    study = sweepml.minimize(lambda c: 10 * c["x"] ** 2 + 0.01 * c["y"], space,
                             strategy="random", n_trials=40, seed=0)  # fmt: skip
    found = parameter_importance(study.trials, study.space)
    assert next(iter(found.scores)) == "x" and found.scores["x"] > 0.8
    assert sum(found.scores.values()) == pytest.approx(1.0)
    assert "fANOVA" in found.method


def _study_with_everything(path):
    def objective(config, trial, budget):
        value = 0.0
        for epoch in range(int(budget)):
            value = 0.5 + 0.4 * config["lr"] * (1 - 0.7**epoch) + 0.05 * (config["opt"] == "adam")
            trial.report(epoch, value)
        if config["units"] > 200:
            raise RuntimeError("too wide")
        return {"value": value, "train_value": value + 0.02}

    space = {"lr": sweepml.Float(0.01, 1, log=True), "opt": ["adam", "sgd"],
             "units": sweepml.Int(8, 256, log=True)}  # fmt: skip
    strategy = sweepml.Hyperband(min_budget=1, max_budget=9)
    return sweepml.maximize(objective, space, strategy=strategy, n_trials=40, seed=0,
                            storage=path, study_name="demo")  # fmt: skip


def test_report_is_one_html_file_with_every_figure_embedded(tmp_path):
    study = _study_with_everything(tmp_path / "s.db")
    path = write_report(study, tmp_path / "report.html")
    page = path.read_text()
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) >= 7  # 2 histories, importance, 3 parameters, curves, durations
    assert all(src.startswith("data:image/png;base64,") for src in images)
    needles = ["Leaderboard", "prediction optimum", "result entropy", "models per hour",
               "Parameter importance", "fANOVA", "Robustness", "too wide", "FAILED"]  # fmt: skip
    assert all(needle in page for needle in needles)
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from the network


def test_report_command_and_its_errors(tmp_path, capsys):
    _study_with_everything(tmp_path / "s.db")
    assert main(["report", str(tmp_path / "s.db"), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert main(["report", str(tmp_path / "missing.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    open_storage(str(empty))  # creates the file, with no study
    assert main(["report", str(empty)]) == 2
    assert "holds no study" in capsys.readouterr().err
    store = open_storage(str(tmp_path / "nothing.db"))
    store.create_study(StudyInfo("idle", "minimize", sweepml.Space({"x": sweepml.Float(0, 1)})
                                 .to_dict(), 0.0, {}))  # fmt: skip
    assert main(["report", str(tmp_path / "nothing.db")]) == 2
    assert "has no trials yet" in capsys.readouterr().err
    with pytest.raises(SweepmlError, match="no trials yet"):
        write_report(sweepml.load_study(str(tmp_path / "nothing.db")), tmp_path / "x.html")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="needs Debian's chromium")
def test_every_figure_loads_in_headless_chromium(tmp_path):
    assert CHROMIUM, "CI installs chromium (apt-get install chromium); it is missing"
    page = write_report(_study_with_everything(tmp_path / "s.db"), tmp_path / "r.html").read_text()
    probe = (
        "<script>addEventListener('load',()=>document.body.setAttribute('data-images',"
        "JSON.stringify([...document.images].map(i=>[i.complete,i.naturalWidth]))));</script>"
    )
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe + "</body>"))
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
         "--dump-dom", (tmp_path / "probe.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    found = re.search(r'data-images="([^"]*)"', dom)
    assert found, dom[:500]
    images = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(images) == page.count("<img ")
    assert all(complete and width > 0 for complete, width in images)
