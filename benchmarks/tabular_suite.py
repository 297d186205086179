"""The tabular benchmark suite: run tools over named tables, compare runs, catch regressions.

    # run: one JSON line per (tool, table, seed) into a JSONL file stamped with the commit
    python benchmarks/tabular_suite.py run --set public --tools sweepml --seeds 0 1 2 \\
        --out benchmarks/out/suite-public.jsonl
    python benchmarks/tabular_suite.py run --set meta-test \\
        --tools sweepml,lightgbm,flaml,autogluon --peers-dir /tmp/peers \\
        --out benchmarks/out/suite-meta-test.jsonl [--busy 2]
    # report: every table's numbers, mean ranks per task, win/tie/loss against each peer
    python benchmarks/tabular_suite.py report benchmarks/out/suite-meta-test.jsonl
    # compare: a run against a recorded one; flags every table that got worse by more than its
    # seed-to-seed spread (exit status 1 when any did)
    python benchmarks/tabular_suite.py compare NEW.jsonl --against OLD.jsonl [--tool sweepml]

Sets: ``public`` (the nine tables of ``../shared/bench/data``), ``meta-test`` and ``meta-train``
(the corpus of ``benchmarks/corpus``, built into ``$SWEEPML_CORPUS`` by ``corpus/build.py``),
``all`` (public + meta-test), or table names separated by commas.

Every fit runs in its own process through the harness ``../shared/bench/run.py`` (its split, its
scoring, its kill at budget x 3 + 60 s); peers need their own virtual environments
(``--peers-dir``, as ``../shared/bench/README.md`` describes). ``run.py`` fits with seed 0; the
suite fits sweepml with other seeds itself, on run.py's split and scoring, so that a table's
seed-to-seed spread is known. ``--busy N`` keeps N CPU-bound processes running for the whole
run: the busy-machine check. Otherwise each fit waits (up to a minute) until ``--jobs`` CPUs are
idle, and its record says how many CPUs were busy in the second before it (``busy_cpus_before``;
``--redo-above-load`` fits again what started busier than its figure).

A run killed halfway resumes: records already in ``--out`` for the same tool, table, seed,
budget, jobs and load are not run again. A file holds one commit's results; the suite refuses to
add another commit's, and refuses to compare runs made on different splits or table contents.
Each sweepml fit imports the working tree, so a run stops (to be resumed) when the tree changes
under it; to keep editing while a run goes on, run it from a clean ``git worktree`` of the commit
with ``PYTHONPATH=<worktree>/src``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepml import _procfs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = (ROOT / ".." / "shared" / "bench").resolve()
PUBLIC_DIR = BENCH / "data"
MANIFEST = HERE / "corpus" / "manifest.json"
CORPUS_DIR = Path(os.environ.get("SWEEPML_CORPUS", Path.home() / ".cache" / "sweepml-corpus"))
PUBLIC = (
    "breast_cancer",
    "spam",
    "credit_data",
    "synthetic_200k",
    "digits",
    "vehicle",
    "satellite",
    "diabetes",
    "diamonds",
)
PRIMARY = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc"}
TOOLS = ("sweepml", "autogluon", "autogluon_best", "flaml", "tpot", "lightgbm", "hgb", "rf")
SUITE_VERSION = 1
FLOOR = "lightgbm"  # no fit should end worse than LightGBM's defaults on the same table


def _value(cell: Cell) -> str:
    return f"{cell.mean:.4g}" if cell.values else "failed"


class SuiteError(Exception):
    """A request the suite refuses, with the reason in the user's terms."""


# ---------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    name: str
    data_dir: Path
    split: str  # "public", "meta-test" or "meta-train"


def resolve_set(spec: str, corpus_dir: Path = CORPUS_DIR) -> list[Table]:
    """The tables a ``--set`` names."""
    corpus = _corpus_tables()
    public = [Table(name, PUBLIC_DIR, "public") for name in PUBLIC]
    if spec == "public":
        return public
    if spec in ("meta-test", "meta-train"):
        return [Table(e["name"], corpus_dir, e["split"]) for e in corpus if e["split"] == spec]
    if spec == "all":
        return public + resolve_set("meta-test", corpus_dir)
    by_name = {t.name: t for t in public}
    by_name.update({e["name"]: Table(e["name"], corpus_dir, e["split"]) for e in corpus})
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SuiteError(
            f"--set: {unknown} are not tables of the public set or the corpus; use public, "
            f"meta-test, meta-train, all, or names from benchmarks/corpus/manifest.json"
        )
    return [by_name[n] for n in names]


def _corpus_tables() -> list[dict[str, Any]]:
    if not MANIFEST.exists():
        return []
    return json.loads(MANIFEST.read_text())["tables"]


def corpus_split_id() -> str:
    return json.loads(MANIFEST.read_text())["split_id"] if MANIFEST.exists() else ""


def table_fingerprint(table: Table) -> str:
    """The content hash ``corpus/build.py`` records (so a rebuilt cache that differs is caught)."""
    import pandas as pd

    path = table.data_dir / f"{table.name}.parquet"
    if not path.exists():
        if table.split == "public" and table.name == "synthetic_200k":
            return "generated"
        hint = "python benchmarks/corpus/build.py" if table.split != "public" else str(BENCH)
        raise SuiteError(f"table {table.name!r} is not in {table.data_dir} (build it: {hint})")
    return _corpus_build().fingerprint(pd.read_parquet(path))


def _corpus_build():  # noqa: ANN202 - the corpus builder, loaded from its file once
    import importlib.util

    if "corpus_build" not in sys.modules:
        spec = importlib.util.spec_from_file_location("corpus_build", HERE / "corpus" / "build.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["corpus_build"] = module
        spec.loader.exec_module(module)
    return sys.modules["corpus_build"]


def check_corpus_fingerprints(tables: list[Table]) -> dict[str, str]:
    """Each table's fingerprint, checked against the manifest for corpus tables."""
    recorded = {e["name"]: e["fingerprint"] for e in _corpus_tables()}
    prints: dict[str, str] = {}
    for table in tables:
        prints[table.name] = table_fingerprint(table)
        expected = recorded.get(table.name)
        if table.split != "public" and expected and prints[table.name] != expected:
            raise SuiteError(
                f"table {table.name!r} in {table.data_dir} differs from the manifest's (content "
                f"{prints[table.name]}, manifest {expected}): rebuild it with "
                f"python benchmarks/corpus/build.py --rebuild --only {table.name}"
            )
    return prints


# ---------------------------------------------------------------------------------- running
def tree_state() -> str:
    """HEAD and a digest of the tracked files' differences from it: sweepml's fits import the
    working tree, so a run whose tree changes part way would mix two versions of the code."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--binary"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}:{hashlib.sha1(diff).hexdigest()}"


def git_commit() -> tuple[str, bool]:
    """HEAD's id and whether tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    return commit, dirty


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a run file; a torn last line (a killed run) is ignored."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def run_key(record: dict[str, Any]) -> tuple:
    return (
        record["tool"],
        record["table"],
        int(record["seed"]),
        float(record["budget_s"]),
        int(record["n_jobs"]),
        int(record.get("busy", 0)),
    )


def run_suite(
    tables: list[Table],
    tools: list[str],
    seeds: list[int],
    out: Path,
    *,
    budget: int,
    jobs: int,
    busy: int,
    python: str,
    peers_dir: str | None,
    redo_above_load: float | None = None,
    log=print,
) -> list[dict[str, Any]]:
    """Fit every (tool, table, seed) not yet in ``out``, one at a time, appending as they end."""
    commit, dirty = git_commit()
    tree = tree_state()
    existing = read_records(out)
    # sweepml's figures must come from one commit; the peers' do not depend on ours
    commits = {r["commit"] for r in existing if r["tool"] == "sweepml"}
    if "sweepml" in tools and commits - {commit}:
        raise SuiteError(
            f"{out} holds sweepml results of commit {sorted(commits)}, HEAD is {commit}: figures "
            f"must come from one commit, so write this run to a new --out file"
        )
    # a fit the suite itself could not run (no result from the harness) is tried again
    # ... and so is one started on a machine busier than ``redo_above_load``; the later record
    # of a key is the one reports read
    done = {
        run_key(r)
        for r in existing
        if not r.get("suite_failure")
        and (redo_above_load is None or load_before(r) <= redo_above_load)
    }
    prints = check_corpus_fingerprints(tables)
    split_id = corpus_split_id()
    for tool in tools:
        if seeds != [0] and tool != "sweepml":
            log(f"note: {tool} runs with seed 0 only (the harness fixes the peers' seeds)")
    out.parent.mkdir(parents=True, exist_ok=True)
    load = BusyLoad(busy)
    try:
        for table in tables:
            for tool in tools:
                for seed in seeds if tool == "sweepml" else [0]:
                    key = (tool, table.name, seed, float(budget), jobs, busy)
                    if key in done:
                        continue
                    if tool == "sweepml" and tree_state() != tree:
                        raise SuiteError(
                            f"the working tree changed since this run started at {commit} "
                            f"(a commit or an edit): sweepml's fits import it, so the run would "
                            f"mix two versions of the code. Restore the tree and run again (it "
                            f"resumes), or run from a clean git worktree of the commit"
                        )
                    idle = settle(jobs) if not busy else idle_cpus(1.0)
                    record = fit(
                        tool,
                        table,
                        seed,
                        budget=budget,
                        jobs=jobs,
                        python=python,
                        peers_dir=peers_dir,
                        log_dir=out.with_suffix(".logs"),
                    )
                    record.update(
                        suite=SUITE_VERSION,
                        commit=commit,
                        dirty=dirty,
                        tool=tool,
                        table=table.name,
                        set=table.split,
                        seed=seed,
                        budget_s=float(budget),
                        n_jobs=jobs,
                        busy=busy,
                        fingerprint=prints[table.name],
                        split_id="public" if table.split == "public" else split_id,
                    )
                    if idle is not None:
                        record["busy_cpus_before"] = round(CPUS - idle, 2)
                    with out.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")
                    log(_one_line(record))
    finally:
        load.stop()
    return read_records(out)


def fit(
    tool: str,
    table: Table,
    seed: int,
    *,
    budget: float,
    jobs: int,
    python: str,
    peers_dir: str | None,
    log_dir: Path,
) -> dict[str, Any]:
    """One fit in its own process; the harness's JSON record (with ``error`` on failure).
    The tool's output goes to ``log_dir`` (run.py names the files tool__table.log)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.jsonl"
        if seed == 0:
            cmd = [
                sys.executable,
                str(BENCH / "run.py"),
                "--tool",
                tool,
                "--dataset",
                table.name,
                "--budget",
                str(budget),
                "--jobs",
                str(jobs),
                "--data-dir",
                str(table.data_dir),
                "--out",
                str(result),
                "--log-dir",
                str(log_dir),
            ]
            cmd += ["--python", python] if tool == "sweepml" else ["--peers-dir", peers_dir or ""]
            if tool != "sweepml" and not peers_dir:
                return {"error": f"no --peers-dir for {tool}"}
        else:
            cmd = [
                python,
                __file__,
                "_seeded",
                "--table",
                table.name,
                "--data-dir",
                str(table.data_dir),
                "--seed",
                str(seed),
                "--budget",
                str(budget),
                "--jobs",
                str(jobs),
                "--result",
                str(result),
            ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=budget * 3 + 120)
        except subprocess.TimeoutExpired:
            return {"error": f"no result within {budget * 3 + 120:.0f} s", "suite_failure": True}
        lines = read_records(result)
        if lines:
            return lines[-1]
        said = (done.stderr or done.stdout).strip()[-500:]
        return {"error": f"the harness wrote no result: {said}", "suite_failure": True}


def seeded_fit(table: str, data_dir: str, seed: int, budget: float, jobs: int) -> dict[str, Any]:
    """sweepml with ``random_state=seed`` on run.py's split, scored as run.py scores (seed > 0)."""
    import importlib.metadata
    import importlib.util

    import sweepml

    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    task, X_train, y_train, X_test, y_test, sha = run.load_split(data_dir, table)
    record: dict[str, Any] = {
        "tool": "sweepml",
        "dataset": table,
        "task": task,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "split_sha": sha,
    }
    cls = sweepml.AutoRegressor if task == "regression" else sweepml.AutoClassifier
    model = cls(
        time_budget=budget,
        metric=PRIMARY[task],
        n_jobs=jobs,
        random_state=seed,
        show_progress=False,
    )
    start = time.perf_counter()
    try:
        model.fit(X_train, y_train)
        record["fit_seconds"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        pred = model.predict(X_test)
        proba = None if task == "regression" else model.predict_proba(X_test)
        record["predict_seconds"] = round(time.perf_counter() - start, 3)
        n_classes = 0 if task == "regression" else int(max(y_train.max(), y_test.max())) + 1
        record.update(run.score(task, y_test, pred, proba, n_classes))
        record["error"] = None
    except Exception as exc:  # noqa: BLE001 - recorded, the suite goes on
        record["fit_seconds"] = round(time.perf_counter() - start, 2)
        record["error"] = f"{type(exc).__name__}: {exc}"[:500]
    record["version"] = importlib.metadata.version("sweepml")
    return record


CPUS = os.cpu_count() or 1
idle_cpus = _procfs.idle_cpus  # CPUs idle over a window, from /proc/stat (None elsewhere)


def settle(jobs: int, patience: float = 60.0) -> float | None:
    """Wait (at most ``patience`` seconds) until ``jobs`` CPUs are idle, so that a fit does not
    start while the previous one's processes wind down; the idle CPUs last measured."""
    deadline = time.monotonic() + patience
    idle = idle_cpus(1.0)
    while idle is not None and idle < min(jobs, CPUS) - 0.5 and time.monotonic() < deadline:
        idle = idle_cpus(1.0)
    return idle


def load_before(record: dict[str, Any]) -> float:
    """How busy the machine was when a fit started: the CPUs busy over the second before it
    (``busy_cpus_before``, recorded by the suite), else, for older records, the harness's
    1-minute load, which after back-to-back fits still counts the previous fit."""
    if record.get("busy_cpus_before") is not None:
        return float(record["busy_cpus_before"])
    return float(record.get("load1_before") or 0.0)


class BusyLoad:
    """``n`` processes spinning on a CPU each, for the busy-machine check."""

    def __init__(self, n: int) -> None:
        self.procs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(n)
        ]

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def _one_line(record: dict[str, Any]) -> str:
    metric = PRIMARY.get(record.get("task", ""), "")
    value = record.get(metric)
    shown = f"{metric} {value:.5g}" if isinstance(value, float) else f"error {record.get('error')}"
    return (
        f"{record['tool']:>10} {record['table']:<32} seed {record['seed']} {shown} "
        f"({record.get('fit_seconds', '?')} s)"
    )


# ---------------------------------------------------------------------------------- analysis
@dataclass
class Cell:
    """One tool on one table: its primary metric over seeds."""

    values: list[float]
    failures: int
    fit_seconds: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def spread(self) -> float:
        return max(self.values) - min(self.values) if len(self.values) > 1 else 0.0


def latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per fit: the last one written (a fit redone replaces the earlier one)."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for record in records:
        by_key[run_key(record)] = record
    return list(by_key.values())


def collect(
    records: Iterable[dict[str, Any]],
) -> tuple[dict[str, str], dict[tuple[str, str], Cell]]:
    """Tasks per table and the cells per (table, tool), from the latest record of each fit."""
    tasks: dict[str, str] = {}
    cells: dict[tuple[str, str], Cell] = defaultdict(lambda: Cell([], 0, []))
    for record in latest(records):
        cell = cells[(record["table"], record["tool"])]
        task = record.get("task")
        if task:
            tasks[record["table"]] = task
        value = record.get(PRIMARY.get(task or "", ""))
        if record.get("error") or not isinstance(value, (int, float)) or math.isnan(value):
            cell.failures += 1
        else:
            cell.values.append(float(value))
        if isinstance(record.get("fit_seconds"), (int, float)):
            cell.fit_seconds.append(float(record["fit_seconds"]))
    return tasks, dict(cells)


def noise(task: str, cells: list[Cell]) -> float:
    """What counts as a tie on a table: the largest seed-to-seed spread seen there, at least a
    small floor (ROC AUC 0.001; log loss and RMSE 0.5 % of the value)."""
    spread = max((c.spread for c in cells), default=0.0)
    means = [c.mean for c in cells if c.values]
    floor = 0.001 if task == "binary" else 0.005 * (statistics.fmean(means) if means else 0.0)
    return max(spread, abs(floor))


def better(task: str, a: float, b: float, tie: float) -> int:
    """1 if ``a`` beats ``b`` by more than ``tie``, -1 if it loses by more, 0 for a tie."""
    diff = (a - b) if PRIMARY[task] in HIGHER_IS_BETTER else (b - a)
    return 1 if diff > tie else -1 if diff < -tie else 0


def ranks(task: str, cells: dict[str, Cell]) -> dict[str, float]:
    """Rank per tool on one table (1 is best); ties within noise share the better rank,
    a tool that failed every seed ranks last."""
    tie = noise(task, list(cells.values()))
    ok = {t: c.mean for t, c in cells.items() if c.values}
    out: dict[str, float] = {}
    for tool, value in ok.items():
        beaten_by = sum(
            1 for other, v in ok.items() if other != tool and better(task, v, value, tie) > 0
        )
        out[tool] = 1.0 + beaten_by
    for tool in cells:
        out.setdefault(tool, float(len(cells)))
    return out


def report(records: list[dict[str, Any]], *, focus: str = "sweepml") -> str:
    """Markdown: every table, mean ranks overall and per task, win/tie/loss of ``focus``."""
    tasks, cells = collect(records)
    tools = sorted(
        {tool for _, tool in cells},
        key=lambda t: (t != focus, TOOLS.index(t) if t in TOOLS else 99, t),
    )
    tables = sorted(tasks, key=lambda t: (tasks[t], t))
    budget = max((float(r["budget_s"]) for r in records), default=60.0)
    limit = budget * 1.05 + 5
    lines = [
        f"| table | task | metric | {' | '.join(tools)} |",
        "|---|---|---|" + "---|" * len(tools),
    ]
    rank_sum: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    record_vs: dict[str, list[int]] = {t: [0, 0, 0] for t in tools if t != focus}
    over: list[str] = []
    below_floor: list[str] = []
    for table in tables:
        task = tasks[table]
        here = {t: cells[(table, t)] for t in tools if (table, t) in cells}
        table_ranks = ranks(task, here)
        for tool, rank in table_ranks.items():
            rank_sum[tool][task].append(rank)
            rank_sum[tool]["all"].append(rank)
        tie = noise(task, list(here.values()))
        row = []
        for tool in tools:
            cell = here.get(tool)
            if cell is None:
                row.append("-")
                continue
            if cell.fit_seconds and max(cell.fit_seconds) > limit:
                over.append(f"{tool} on {table}: {max(cell.fit_seconds):.0f} s")
            if not cell.values:
                row.append("fail")
                continue
            text = f"{cell.mean:.4g}"
            if len(cell.values) > 1:
                text += f" ±{cell.spread / 2:.2g}"
            row.append(text + f" ({max(cell.fit_seconds, default=0):.0f}s)")
        mine = here.get(focus)
        if mine is not None:
            for tool, cell in here.items():
                if tool == focus:
                    continue
                if not mine.values or not cell.values:
                    outcome = (
                        0 if not mine.values and not cell.values else (1 if mine.values else -1)
                    )
                else:
                    outcome = better(task, mine.mean, cell.mean, tie)
                record_vs[tool][{1: 0, 0: 1, -1: 2}[outcome]] += 1
                if tool == FLOOR and outcome < 0:
                    below_floor.append(f"{table} ({_value(mine)} against {_value(cell)})")
        lines.append(f"| {table} | {task} | {PRIMARY[task]} | {' | '.join(row)} |")
    lines += [
        "",
        "Mean rank (1 is best; ties within a table's noise share the better rank; a "
        "failure ranks last):",
        "",
        "| tool | all | binary | multiclass | regression |",
        "|---|---|---|---|---|",
    ]
    for tool in tools:
        parts = []
        for key in ("all", "binary", "multiclass", "regression"):
            values = rank_sum[tool].get(key, [])
            parts.append(f"{statistics.fmean(values):.2f} ({len(values)})" if values else "-")
        lines.append(f"| {tool} | {' | '.join(parts)} |")
    if record_vs:
        lines += ["", f"{focus} against each tool, win / tie / loss:", ""]
        for tool, (win, tie_count, loss) in record_vs.items():
            lines.append(f"- {tool}: {win} / {tie_count} / {loss}")
    lines += ["", f"Fits over budget x 1.05 + 5 s ({limit:.0f} s): " + (", ".join(over) or "none")]
    if any(tool == FLOOR for tool in tools) and focus != FLOOR:
        lines += [
            f"{focus} below {FLOOR} defaults by more than noise: "
            + (", ".join(below_floor) or "none")
        ]
    mine = [r for r in records if r["tool"] == focus]
    commits = sorted({r["commit"] for r in mine})
    dirty = " (tree had local changes)" if any(r.get("dirty") for r in mine) else ""
    versions = sorted({f"{r['tool']} {r['version']}" for r in records if r.get("version")})
    at = ", ".join(commits) or "-"
    lines += [f"{focus} at commit {at}{dirty}; versions: {', '.join(versions)}"]
    return "\n".join(lines)


def compare(new: list[dict[str, Any]], old: list[dict[str, Any]], *, tool: str) -> tuple[str, int]:
    """A table of ``tool``'s results in two runs; flags tables worse by more than their spread."""
    new = [r for r in new if r["tool"] == tool]
    old = [r for r in old if r["tool"] == tool]
    _check_comparable(new, old)
    tasks, new_cells = collect(new)
    old_tasks, old_cells = collect(old)
    tasks.update({k: v for k, v in old_tasks.items() if k not in tasks})
    common = sorted(
        set(t for t, _ in new_cells) & set(t for t, _ in old_cells), key=lambda t: (tasks[t], t)
    )
    lines = [
        f"{tool}: {_commits(new)} against {_commits(old)}",
        "",
        "| table | metric | before | after | change | spread | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    worse = 0
    for table in common:
        task = tasks[table]
        a, b = old_cells[(table, tool)], new_cells[(table, tool)]
        if not b.values:
            verdict, worse = "FAILED", worse + 1
            lines.append(f"| {table} | {PRIMARY[task]} | {a.mean:.5g} | fail | | | {verdict} |")
            continue
        spread = max(a.spread, b.spread)
        single = len(a.values) < 2 and len(b.values) < 2
        tie = noise(task, [a, b])
        outcome = better(task, b.mean, a.mean, tie) if a.values else 1
        verdict = {1: "better", 0: "same", -1: "WORSE"}[outcome]
        if outcome < 0:
            worse += 1
        if single:
            verdict += " (one seed each: spread unknown, floor used)"
        change = b.mean - a.mean if a.values else math.nan
        lines.append(
            f"| {table} | {PRIMARY[task]} | {a.mean:.5g} | {b.mean:.5g} | {change:+.3g} "
            f"| {spread:.3g} | {verdict} |"
        )
    missing = sorted(set(t for t, _ in old_cells) - set(t for t, _ in new_cells))
    if missing:
        lines += ["", f"Not in the new run: {', '.join(missing)}"]
    lines += ["", f"{worse} of {len(common)} tables worse by more than their spread."]
    return "\n".join(lines), worse


def _commits(records: list[dict[str, Any]]) -> str:
    return ", ".join(sorted({r["commit"] for r in records})) or "?"


def _check_comparable(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
    """Refuse runs made on different splits, table contents, budgets or loads."""

    def keyed(records, field):
        return {r["table"]: r.get(field) for r in records if r.get(field) is not None}

    for field, what in (
        ("split_sha", "test rows"),
        ("fingerprint", "table contents"),
        ("split_id", "corpus split"),
    ):
        a, b = keyed(old, field), keyed(new, field)
        differ = sorted(t for t in set(a) & set(b) if a[t] != b[t])
        if differ:
            raise SuiteError(
                f"the runs were made on different {what} ({field}) for {differ}: "
                f"they cannot be compared"
            )
    for field in ("budget_s", "n_jobs", "busy"):
        a = {r.get(field) for r in old}
        b = {r.get(field) for r in new}
        if a != b:
            raise SuiteError(
                f"the runs differ in {field} ({sorted(a, key=str)} against "
                f"{sorted(b, key=str)}): they cannot be compared"
            )


# ---------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fit tools over a set of tables")
    run.add_argument(
        "--set", default="public", help="public, meta-test, meta-train, all, or table names"
    )
    run.add_argument("--tools", default="sweepml", help=f"comma-separated, of {', '.join(TOOLS)}")
    run.add_argument("--seeds", type=int, nargs="+", default=[0], help="sweepml's seeds (peers: 0)")
    run.add_argument("--budget", type=int, default=60, help="seconds per fit (default 60)")
    run.add_argument("--jobs", type=int, default=2, help="cores per fit (default 2)")
    run.add_argument("--busy", type=int, default=0, help="CPU-bound processes to run alongside")
    run.add_argument("--out", type=Path, required=True, help="JSONL file (resumed if it exists)")
    run.add_argument(
        "--python",
        default=str(ROOT / ".venv" / "bin" / "python"),
        help="the Python with sweepml installed (default .venv/bin/python)",
    )
    run.add_argument(
        "--peers-dir",
        default=os.environ.get("PEERS_DIR"),
        help="folder of the peers' venvs (flaml/, autogluon/, baselines/, ...)",
    )
    run.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="the corpus cache folder")
    run.add_argument(
        "--redo-above-load",
        type=float,
        default=None,
        help="fit again what started while more CPUs than this were busy (older records: the "
        "1-minute load)",
    )
    rep = sub.add_parser(
        "report", help="tables, mean ranks and win/tie/loss of one or more run files"
    )
    rep.add_argument("files", type=Path, nargs="+")
    rep.add_argument("--focus", default="sweepml")
    cmp_ = sub.add_parser("compare", help="a run against a recorded one")
    cmp_.add_argument("new", type=Path)
    cmp_.add_argument("--against", type=Path, required=True)
    cmp_.add_argument("--tool", default="sweepml")
    seeded = sub.add_parser("_seeded", help=argparse.SUPPRESS)
    for flag in ("--table", "--data-dir", "--result"):
        seeded.add_argument(flag, required=True)
    seeded.add_argument("--seed", type=int, required=True)
    seeded.add_argument("--budget", type=int, required=True)
    seeded.add_argument("--jobs", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "_seeded":
            record = seeded_fit(args.table, args.data_dir, args.seed, args.budget, args.jobs)
            Path(args.result).write_text(json.dumps(record) + "\n")
            return 0
        if args.command == "run":
            tools = [t.strip() for t in args.tools.split(",") if t.strip()]
            unknown = [t for t in tools if t not in TOOLS]
            if unknown:
                raise SuiteError(f"--tools: unknown {unknown}; choose from {', '.join(TOOLS)}")
            records = run_suite(
                resolve_set(args.set, args.corpus),
                tools,
                args.seeds,
                args.out,
                budget=args.budget,
                jobs=args.jobs,
                busy=args.busy,
                python=args.python,
                peers_dir=args.peers_dir,
                redo_above_load=args.redo_above_load,
            )
            print(report(records))
            return 0
        if args.command == "report":
            records = [r for path in args.files for r in read_records(path)]
            if not records:
                raise SuiteError(f"no results in {', '.join(map(str, args.files))}")
            print(report(records, focus=args.focus))
            return 0
        text, worse = compare(read_records(args.new), read_records(args.against), tool=args.tool)
        print(text)
        return 1 if worse else 0
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
