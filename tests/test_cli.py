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
        (["tune", "obj.py:objective", "--space", "space.yaml"], "needs a budget"),
        (
            ["tune", "obj.py:objective", "--space", "space.yaml", "--trials", 2, "--strategy", "x"],
            "must be one of",
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
