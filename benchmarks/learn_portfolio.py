"""Learn the tabular zero-shot portfolio on the corpus's meta-train tables (auto-sklearn 2.0's
greedy portfolio, TabRepo's idea behind AutoGluon's presets), and check it on meta-test.

    python benchmarks/learn_portfolio.py candidates   # benchmarks/portfolio/candidates.json
    python benchmarks/learn_portfolio.py matrix [--split meta-train] [--only t1,t2]   # resumable
    python benchmarks/learn_portfolio.py select [--size 16] [--write]

1. ``candidates``: per task (classification, regression), every family's default and seeded
   random draws of each family's hyperparameters (preprocessing drawn too, without feature
   transforms), a few hundred in all. Fixed once; the matrix refers to them by id.
2. ``matrix``: every candidate scored on every table of a split under one protocol: the
   harness's training split only (``../shared/bench/run.py``'s; test rows are never read), at
   most ``--max-rows`` rows (stratified), holdout or CV as a fit plans it, the table's metric as
   a loss, each trial in its own process capped at ``--trial-seconds`` (2 workers). Each table's
   trials live in a SQLite study under ``--work``, so a run killed halfway resumes where it
   stopped (the core's own resume); each finished table's column is written to
   ``benchmarks/portfolio/matrix-<split>.csv`` (loss and fit seconds per candidate and table).
3. ``select``: losses normalised per table to (loss - best) / (median - best), clipped to [0, 1];
   greedy selection adds the candidate that most lowers the mean over tables of the best
   normalised loss so far (ties: the cheaper one). Leave-tables-out on meta-train (5 folds of
   tables) says how it transfers; then, once, on meta-test (``matrix --split meta-test``). With
   ``--write`` the portfolio goes into ``src/sweepml/tabular/portfolio.json`` for a task only
   where it beats the family defaults on meta-test, with each member's typical fit (seconds and
   rows) so a fit can put last what would not finish in its trial time.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FOLDER = HERE / "portfolio"
CANDIDATES = FOLDER / "candidates.json"
MANIFEST = HERE / "corpus" / "manifest.json"
SHIPPED = ROOT / "src" / "sweepml" / "tabular" / "portfolio.json"
BENCH = (ROOT / ".." / "shared" / "bench").resolve()
CORPUS_DIR = Path(os.environ.get("SWEEPML_CORPUS", Path.home() / ".cache" / "sweepml-corpus"))
WORK_DIR = Path(
    os.environ.get("SWEEPML_PORTFOLIO_WORK", Path.home() / ".cache" / "sweepml-portfolio")
)
TASKS = ("classification", "regression")
CANDIDATE_SEED = 20261202
DRAWS_PER_FAMILY = 12
GENERIC_ROWS, GENERIC_FEATURES = 5_000, 20  # the space candidates are drawn from
FAILED_LOSS = float("inf")


class Score(NamedTuple):
    """One candidate on one table: its validation loss (inf: invalid there, or failed), the
    seconds of one fit, and the rows that fit saw."""

    loss: float
    seconds: float
    fit_rows: int = 0


# ---------------------------------------------------------------------------------- candidates
def make_candidates(draws: int = DRAWS_PER_FAMILY, seed: int = CANDIDATE_SEED) -> dict[str, list]:
    """Per task: each family's default, then ``draws`` seeded random configs of the family, then
    the configs of the portfolio shipped before (learned on the public tables)."""
    from sweepml.tabular.components import MODELS
    from sweepml.tabular.pipeline_space import pipeline_space

    rng = np.random.default_rng(seed)
    previous = json.loads(SHIPPED.read_text()) if SHIPPED.exists() else {}
    out: dict[str, list] = {}
    for task in TASKS:
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for family in sorted(MODELS):
            space = pipeline_space(
                task, n_rows=GENERIC_ROWS, n_features=GENERIC_FEATURES, models=[family]
            )
            configs = [("default", space.default())]
            configs += [
                ("random", space.sample(rng, fixed={"features": "none"})) for _ in range(draws)
            ]
            for source, config in configs:
                key = json.dumps(config, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    entries.append({"id": len(entries), "source": source, "config": config})
        for entry in previous.get(task, {}).get("configs", []):  # the portfolio shipped before
            key = json.dumps(entry["config"], sort_keys=True)
            if key not in seen:
                seen.add(key)
                entries.append(
                    {"id": len(entries), "source": "previous", "config": entry["config"]}
                )
        out[task] = entries
    return out


def read_candidates() -> dict[str, list]:
    if not CANDIDATES.exists():
        raise SystemExit(f"{CANDIDATES} is missing: run `python {__file__} candidates` first")
    return json.loads(CANDIDATES.read_text())


# ---------------------------------------------------------------------------------- the matrix
def corpus_tables(split: str) -> list[dict[str, Any]]:
    return [e for e in json.loads(MANIFEST.read_text())["tables"] if e["split"] == split]


def task_of(entry: dict[str, Any]) -> str:
    return "regression" if entry["task"] == "regression" else "classification"


def _bench_run():  # noqa: ANN202 - the harness, loaded from its file
    if "bench_run" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_run"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_run"]


def score_table(
    entry: dict[str, Any],
    candidates: list[dict[str, Any]],
    *,
    corpus: Path,
    work: Path,
    max_rows: int,
    trial_seconds: float,
    seed: int = 0,
) -> dict[int, Score]:
    """{candidate id: (loss, fit seconds)} on one table's training split; a candidate that is
    not valid for the table's space, or fails, gets an infinite loss."""

    import sweepml
    from sweepml.exceptions import InvalidConfigError
    from sweepml.execution import LocalExecutor
    from sweepml.strategies import Warmstart
    from sweepml.tabular.data import infer_column_types
    from sweepml.tabular.evaluation import PipelineObjective, plan_evaluation
    from sweepml.tabular.metrics import default_metric, get_metric
    from sweepml.tabular.pipeline_space import pipeline_space
    from sweepml.tabular.refit import subsample
    from sweepml.trial import TrialStatus

    task = task_of(entry)
    kind, X, y, _, _, _ = _bench_run().load_split(str(corpus), entry["name"])
    if len(X) > max_rows:  # stratified when every class allows it (the fit's own subsample)
        keep = subsample(y, max_rows, task, seed)
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
    n_classes = len(np.unique(y)) if task == "classification" else 0
    metric = get_metric(default_metric(task, n_classes), task, owner="portfolio")
    plan = plan_evaluation(y, task, seed)
    objective = PipelineObjective(
        X, y, columns=infer_column_types(X), task=task, metric=metric, plan=plan,
        n_classes=n_classes, seed=seed,
    )  # fmt: skip
    space = pipeline_space(task, n_rows=len(X), n_features=X.shape[1])
    valid = []
    for candidate in candidates:
        try:
            space.validate(candidate["config"])
        except InvalidConfigError:
            continue
        valid.append(candidate)
    work.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = sweepml.minimize(
            objective,
            space,
            strategy=Warmstart("random", [c["config"] for c in valid]),
            n_trials=len(valid),
            n_workers=2,
            executor=LocalExecutor(
                2, start_method="forkserver", preload=("sweepml.tabular.evaluation", "lightgbm")
            ),
            trial_timeout=trial_seconds,
            storage=str(work / f"{entry['name']}.db"),
            study_name=f"portfolio-{entry['name']}-{max_rows}",
            seed=seed,
            show_progress=False,
        )
    by_key = {json.dumps(c["config"], sort_keys=True): c["id"] for c in valid}
    fit_rows = len(plan.folds[0][0])  # rows each fit of a trial sees
    scores = {c["id"]: Score(FAILED_LOSS, trial_seconds, fit_rows) for c in candidates}
    for trial in study.trials:
        cid = by_key.get(json.dumps(trial.config, sort_keys=True))
        if cid is not None and trial.status is TrialStatus.OK and trial.value is not None:
            seconds = float(trial.metrics.get("fit_seconds", 0.0))
            scores[cid] = Score(float(trial.value), seconds, fit_rows)
    return scores


def matrix_path(split: str, task: str) -> Path:
    return FOLDER / f"matrix-{split}-{task}.csv"


def read_matrix(split: str, task: str) -> dict[str, dict[int, Score]]:
    """{table: {candidate id: Score}} from the CSV (empty: no table scored yet)."""
    path = matrix_path(split, task)
    if not path.exists():
        return {}
    out: dict[str, dict[int, Score]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["table"], {})[int(row["candidate"])] = Score(
                float(row["loss"]), float(row["fit_seconds"]), int(row.get("fit_rows") or 0)
            )
    return out


def write_matrix(split: str, task: str, matrix: dict[str, dict[int, Score]]) -> None:
    path = matrix_path(split, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["table", "candidate", "loss", "fit_seconds", "fit_rows"])
        for table in sorted(matrix):
            for cid in sorted(matrix[table]):
                score = matrix[table][cid]
                writer.writerow(
                    [table, cid, f"{score.loss:.6g}", f"{score.seconds:.3g}", score.fit_rows]
                )
    os.replace(tmp, path)


def run_matrix(
    split: str,
    *,
    only: list[str],
    ids: dict[str, list[int]] | None,
    corpus: Path,
    work: Path,
    max_rows: int,
    trial_seconds: float,
) -> None:
    """Score candidates on the split's tables not yet in the matrix (resumable)."""
    candidates = read_candidates()
    for entry in corpus_tables(split):
        if only and entry["name"] not in only:
            continue
        task = task_of(entry)
        matrix = read_matrix(split, task)
        chosen = candidates[task]
        if ids is not None:  # a task missing from ``ids`` is not scored
            chosen = [c for c in chosen if c["id"] in ids.get(task, [])]
            if not chosen:
                continue
        done = matrix.get(entry["name"], {})
        if all(c["id"] in done for c in chosen):
            continue
        started = time.monotonic()
        scores = score_table(
            entry,
            chosen,
            corpus=corpus,
            work=work / split,
            max_rows=max_rows,
            trial_seconds=trial_seconds,
        )
        matrix = read_matrix(split, task)  # another process may have added tables meanwhile
        matrix.setdefault(entry["name"], {}).update(scores)
        write_matrix(split, task, matrix)
        ok = sum(1 for score in scores.values() if np.isfinite(score.loss))
        print(
            f"{entry['name']}: {ok} of {len(chosen)} candidates scored in "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )


# ---------------------------------------------------------------------------------- selection
def normalised(
    matrix: dict[str, dict[int, Score]], ids: list[int]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(normalised losses [candidate, table], fit seconds [candidate, table], tables)."""
    tables = sorted(matrix)
    losses = np.array([[matrix[t].get(i, (FAILED_LOSS, 0.0))[0] for t in tables] for i in ids])
    seconds = np.array([[matrix[t].get(i, (FAILED_LOSS, 0.0))[1] for t in tables] for i in ids])
    out = np.ones_like(losses)
    for j in range(len(tables)):
        column = losses[:, j]
        finite = column[np.isfinite(column)]
        if not len(finite):
            continue
        best = float(finite.min())
        span = max(float(np.median(finite)) - best, 1e-12)
        out[:, j] = np.clip((column - best) / span, 0.0, 1.0)
    return out, seconds, tables


def greedy(losses: np.ndarray, seconds: np.ndarray, size: int) -> list[int]:
    """Row indices of the greedy portfolio: each step adds the row that lowers the mean
    best-so-far loss the most (ties: the cheaper); stops at ``size`` or when nothing helps."""
    chosen: list[int] = []
    best_so_far = np.full(losses.shape[1], np.inf)
    cost = np.nanmean(np.where(np.isfinite(seconds), seconds, np.nan), axis=1)
    while len(chosen) < min(size, len(losses)):
        scores = [
            (float(np.mean(np.minimum(best_so_far, losses[i]))), cost[i], i)
            for i in range(len(losses))
            if i not in chosen
        ]
        score, _, pick = min(scores)
        if chosen and score >= float(np.mean(best_so_far)):
            break
        chosen.append(pick)
        best_so_far = np.minimum(best_so_far, losses[pick])
    return chosen


def best_of(losses: np.ndarray, rows: list[int]) -> float:
    """Mean over tables of the best normalised loss among ``rows``."""
    return float(np.mean(losses[rows].min(axis=0))) if rows else 1.0


def learned_defaults(losses: np.ndarray, families: list[str]) -> list[int]:
    """Per family, the row with the lowest mean normalised loss over the tables (ties: the
    earlier row, the family's hand-set default comes first): a default re-learned from the
    matrix, as auto-sklearn and TabRepo re-learn theirs."""
    means = losses.mean(axis=1)
    best: dict[str, int] = {}
    for row, family in enumerate(families):
        if family not in best or means[row] < means[best[family]]:
            best[family] = row
    return [best[family] for family in sorted(best)]


def leave_tables_out(
    losses: np.ndarray,
    seconds: np.ndarray,
    defaults: list[int],
    *,
    size: int,
    families: list[str] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Portfolio (and, given each row's family, re-learned defaults) learned without a fold of
    tables, scored on that fold, beside the hand-set defaults."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(losses.shape[1])
    folds = min(folds, losses.shape[1])  # no empty fold on a matrix of few tables
    names = ["portfolio_4", "portfolio_8", "portfolio_all", "defaults", "both"]
    if families is not None:
        names += ["learned_defaults", "both_learned"]
    held: dict[str, list[float]] = {name: [] for name in names}
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        picked = greedy(losses[:, train], seconds[:, train], size)
        sub = losses[:, test]
        held["portfolio_4"].append(best_of(sub, picked[:4]) * len(test))
        held["portfolio_8"].append(best_of(sub, picked[:8]) * len(test))
        held["portfolio_all"].append(best_of(sub, picked) * len(test))
        held["defaults"].append(best_of(sub, defaults) * len(test))
        held["both"].append(best_of(sub, sorted(set(picked) | set(defaults))) * len(test))
        if families is not None:
            learned = learned_defaults(losses[:, train], families)
            held["learned_defaults"].append(best_of(sub, learned) * len(test))
            held["both_learned"].append(
                best_of(sub, sorted(set(picked) | set(learned))) * len(test)
            )
    return {name: round(sum(v) / losses.shape[1], 4) for name, v in held.items()}


def describe_members(
    rows: list[int], entries: list[dict[str, Any]], train: dict[str, dict[int, Score]]
) -> list[dict[str, Any]]:
    """The shipped form of candidates: id, source, typical fit (the median seconds and rows over
    the meta-train tables it was scored on) and config."""
    members = []
    for k in rows:
        candidate = entries[k]
        scored = [s[candidate["id"]] for s in train.values() if candidate["id"] in s]
        scored = [x for x in scored if np.isfinite(x.loss) and x.fit_rows > 0]
        members.append(
            {
                "id": candidate["id"],
                "source": candidate["source"],
                "fit_seconds": round(float(np.median([x.seconds for x in scored])), 4)
                if scored
                else None,
                "fit_rows": int(np.median([x.fit_rows for x in scored])) if scored else None,
                "config": candidate["config"],
            }
        )
    return members


def select_task(task: str, entries: list[dict[str, Any]], size: int) -> dict[str, Any] | None:
    """Learn one task's portfolio and re-learned defaults on meta-train, check them by
    leave-tables-out and on meta-test, print what was found; returns what may be shipped
    (``configs`` only if the portfolio beat the hand-set defaults on meta-test, ``defaults``
    only if the re-learned defaults beat the hand-set ones beside the portfolio, both
    leave-tables-out and on meta-test), or None without a meta-train matrix."""
    train = read_matrix("meta-train", task)
    if not train:
        print(f"{task}: no meta-train matrix yet")
        return None
    ids = [c["id"] for c in entries]
    families = [c["config"]["model"] for c in entries]
    losses, seconds, tables = normalised(train, ids)
    defaults = [k for k, c in enumerate(entries) if c["source"] == "default"]
    picked = greedy(losses, seconds, size)
    learned = learned_defaults(losses, families)
    curve = [round(best_of(losses, picked[: k + 1]), 4) for k in range(len(picked))]
    print(f"{task}: {len(tables)} meta-train tables, {len(ids)} candidates")
    print(f"  mean normalised loss by portfolio size: {curve}")
    print(
        f"  hand-set family defaults: {best_of(losses, defaults):.4f}; re-learned: "
        f"{best_of(losses, learned):.4f} (in sample)"
    )
    held_out = leave_tables_out(losses, seconds, defaults, size=size, families=families)
    print(f"  leave-tables-out (5 folds): {held_out}")
    check = sorted({ids[k] for k in picked + defaults + learned})
    print(f"  ids for the meta-test check: {json.dumps({task: check})}")
    result: dict[str, Any] = {"meta_train_tables": len(tables), "curve": curve}
    test = read_matrix("meta-test", task)
    if not test:
        print("  no meta-test matrix yet")
        return result
    test_losses, _, test_tables = normalised(test, ids)
    port, base = best_of(test_losses, picked), best_of(test_losses, defaults)
    both = best_of(test_losses, sorted(set(picked) | set(defaults)))
    both_learned = best_of(test_losses, sorted(set(picked) | set(learned)))
    verdict = (
        f"meta-test ({len(test_tables)} tables): portfolio {port:.4f}, family defaults "
        f"{base:.4f}, both {both:.4f}; portfolio with re-learned defaults {both_learned:.4f}"
    )
    print(f"  {verdict}")
    result["meta_test"] = verdict
    if port < base:
        result["configs"] = describe_members(picked, entries, train)
    if both_learned < both and held_out["both_learned"] < held_out["both"]:
        result["defaults"] = {
            member["config"]["model"]: member
            for member in describe_members(learned, entries, train)
        }
    return result


def select(size: int, write: bool) -> None:
    candidates = read_candidates()
    shipped: dict[str, Any] = {
        "learned_with": f"python benchmarks/learn_portfolio.py select --size {size} --write",
        "corpus_split": json.loads(MANIFEST.read_text())["split_id"],
    }
    for task in TASKS:
        result = select_task(task, candidates[task], size)
        if result is None or "configs" not in result:
            continue
        shipped[task] = {
            "meta_train_tables": result["meta_train_tables"],
            "meta_test": result["meta_test"],
            "mean_normalized_loss_by_size": result["curve"],
            "configs": result["configs"],
        }
        if "defaults" in result:
            shipped[task]["defaults"] = result["defaults"]
    if write:
        SHIPPED.write_text(json.dumps(shipped, indent=1) + "\n")
        print(f"wrote {SHIPPED}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("candidates", help="draw the candidate configs (once)")
    make.add_argument("--draws", type=int, default=DRAWS_PER_FAMILY)
    mat = sub.add_parser("matrix", help="score candidates on a split's tables (resumable)")
    mat.add_argument("--split", choices=["meta-train", "meta-test"], default="meta-train")
    mat.add_argument("--only", default="", help="comma-separated table names")
    mat.add_argument("--ids", default="", help="JSON {task: [candidate ids]} (default: all)")
    mat.add_argument("--max-rows", type=int, default=5_000)
    mat.add_argument("--trial-seconds", type=float, default=20.0)
    mat.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    mat.add_argument("--work", type=Path, default=WORK_DIR)
    sel = sub.add_parser("select", help="greedy selection, leave-tables-out, meta-test check")
    sel.add_argument("--size", type=int, default=16)
    sel.add_argument(
        "--write", action="store_true", help="write src/sweepml/tabular/portfolio.json"
    )
    args = parser.parse_args(argv)
    if args.command == "candidates":
        if CANDIDATES.exists():
            raise SystemExit(f"{CANDIDATES} exists: the matrix refers to its ids; remove it first")
        FOLDER.mkdir(parents=True, exist_ok=True)
        CANDIDATES.write_text(json.dumps(make_candidates(args.draws), indent=1) + "\n")
        counts = {t: len(v) for t, v in read_candidates().items()}
        print(f"wrote {CANDIDATES}: {counts}")
    elif args.command == "matrix":
        only = [n.strip() for n in args.only.split(",") if n.strip()]
        ids = json.loads(args.ids) if args.ids else None
        run_matrix(
            args.split,
            only=only,
            ids=ids,
            corpus=args.corpus,
            work=args.work,
            max_rows=args.max_rows,
            trial_seconds=args.trial_seconds,
        )
    else:
        select(args.size, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
