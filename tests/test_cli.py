"""The command line, end to end in subprocesses, as a user runs it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sweepml
from sweepml import TrialStatus

SWEEPML = [sys.executable, "-m", "sweepml.cli.main"]

OBJECTIVE = """
import time

def objective(config):
    time.sleep(config.get("sleep", 0))
    return (config["x"] - 1) ** 2 + (0 if config["opt"] == "adam" else config["momentum"])
"""

SPEC = """
- {name: x, type: numeric, lower: -3, upper: 3}
- {name: opt, type: discrete, values: [adam, sgd]}
- {name: momentum, type: numeric, lower: 0, upper: 1, condition: {opt: sgd}}
"""


def cli(*args, cwd, timeout=60):
    return subprocess.run(
        [*SWEEPML, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def write(tmp_path: Path, sleep: float = 0.0) -> None:
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    spec = SPEC if not sleep else SPEC + f"- {{name: sleep, type: discrete, values: [{sleep}]}}\n"
    (tmp_path / "space.yaml").write_text(spec)


def test_tune_then_show(tmp_path):
    write(tmp_path)
    done = cli(
        "tune",
        "obj.py:objective",
        "--space",
        "space.yaml",
        "--trials",
        15,
        "--workers",
        2,
        "--storage",
        "s.db",
        "--strategy",
        "tpe",
        "--seed",
        1,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Study objective (minimize): 15 trials" in done.stdout
    assert "Status: OK 15" in done.stdout
    shown = cli("show", "s.db", cwd=tmp_path)
    assert shown.returncode == 0 and "Top 10 of 15 successful trials" in shown.stdout
    assert "Durations (s): mean" in shown.stdout
    assert len(sweepml.load_study(tmp_path / "s.db").trials) == 15


def test_usage_errors_exit_2_with_one_line(tmp_path):
    write(tmp_path)
    cases = [
        (["tune", "obj.py", "--space", "space.yaml", "--trials", 2], "FILE.py:FUNCTION"),
        (["tune", "nope.py:f", "--space", "space.yaml", "--trials", 2], "does not exist"),
        (
            ["tune", "obj.py:missing", "--space", "space.yaml", "--trials", 2],
            "has no function 'missing'; its functions are ['objective']",
        ),
        (["tune", "obj.py:objective", "--space", "nope.yaml", "--trials", 2], "does not exist"),
        (
            ["tune", "obj.py:objective", "--space", "space.yaml"],
            "needs a budget: --trials N, --timeout S or --patience K",
        ),
        (
            ["tune", "obj.py:objective", "--space", "space.yaml", "--trials", 2, "--strategy", "x"],
            "The option --strategy must be one of",
        ),
        (
            ["tune", "obj.py:objective", "--space", "space.yaml", "--trials", 0],
            "The option --trials must be an int >= 1; got 0.",
        ),
        (
            ["tune", "obj.py:objective", "--space", "space.yaml", "--timeout", -1],
            "The option --timeout must be",
        ),
        (
            [
                "tune",
                "obj.py:objective",
                "--space",
                "space.yaml",
                "--trials",
                2,
                "--storage",
                "no/s.db",
            ],
            "does not exist",
        ),
        (["show", "missing.db"], "does not exist"),
        (["tune", "--trials", "x"], "usage:"),
    ]
    for args, message in cases:
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_broken_objective_module_exits_1(tmp_path):
    (tmp_path / "bad.py").write_text("import not_a_module_anywhere\n")
    write(tmp_path)
    done = cli("tune", "bad.py:f", "--space", "space.yaml", "--trials", 1, cwd=tmp_path)
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_saves_finished_work_and_exits_130(tmp_path):
    write(tmp_path, sleep=0.4)
    proc = subprocess.Popen(
        [
            *SWEEPML,
            "tune",
            "obj.py:objective",
            "--space",
            "space.yaml",
            "--trials",
            "100",
            "--workers",
            "2",
            "--storage",
            "s.db",
            "--no-progress",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    trials = sweepml.load_study(tmp_path / "s.db").trials
    statuses = [t.status for t in trials]
    assert statuses.count(TrialStatus.OK) >= 2
    assert TrialStatus.RUNNING not in statuses
    assert statuses.count(TrialStatus.INTERRUPTED) >= 1


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_candle_nt3_example_with_hyperband_and_a_report(tmp_path):
    import pytest

    pytest.importorskip("torch")
    done = cli("tune", EXAMPLES / "candle_nt3.py:objective", "--space",
               EXAMPLES / "candle_nt3.yaml", "--strategy", "hyperband", "--min-budget", 1,
               "--max-budget", 3, "--trials", 6, "--maximize", "--storage", "nt3.db", "--seed", 0,
               "--no-progress", cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    study = sweepml.load_study(tmp_path / "nt3.db")
    assert "epochs" not in study.space.all_params  # the fidelity left the space
    assert {t.budget for t in study.trials} == {1, 3}
    assert all(t.metrics["epochs"] == t.budget for t in study.trials if t.status.value == "OK")
    report = cli("report", "nt3.db", "-o", "nt3.html", cwd=tmp_path, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "<img" in (tmp_path / "nt3.html").read_text()


def test_fidelity_spec_entries_and_budget_ranges(tmp_path):
    write(tmp_path)
    with (tmp_path / "space.yaml").open("a") as spec:
        spec.write("- {name: epochs, type: integer, lower: 1, upper: 9, fidelity: true}\n")
    (tmp_path / "budget_obj.py").write_text(
        "def objective(config, budget=None):\n"
        "    return (config['x'] - 1) ** 2 + 1 / (budget or config['epochs'])\n"
    )
    done = cli("tune", "budget_obj.py:objective", "--space", "space.yaml", "--strategy", "bohb",
               "--trials", 20, "--storage", "s.db", "--seed", 0, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {t.budget for t in sweepml.load_study(tmp_path / "s.db").trials} == {1, 3, 9}
    plain = cli("tune", "budget_obj.py:objective", "--space", "space.yaml", "--trials", 3,
                "--storage", "p.db", cwd=tmp_path)  # fmt: skip
    assert plain.returncode == 0, plain.stderr  # tpe searches epochs as a parameter
    assert "epochs" in sweepml.load_study(tmp_path / "p.db").trials[0].config
    write(tmp_path)  # no fidelity entry any more
    bad = cli("tune", "budget_obj.py:objective", "--space", "space.yaml", "--strategy",
              "hyperband", "--trials", 3, cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "needs a budget range" in bad.stderr
    bad = cli("tune", "budget_obj.py:objective", "--space", "space.yaml", "--strategy", "asha",
              "--min-budget", 9, "--max-budget", 3, "--trials", 3, cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "0 < min_budget < max_budget" in bad.stderr
    (tmp_path / "space.yaml").write_text(
        "- {name: opt, type: discrete, values: [a, b], fidelity: true}\n"
    )
    bad = cli("tune", "budget_obj.py:objective", "--space", "space.yaml", "--strategy",
              "hyperband", "--trials", 3, cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "must be an integer or numeric entry" in bad.stderr
