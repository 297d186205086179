"""Learn the tabular warm-start portfolio offline (greedy portfolio selection, as in
auto-sklearn 2.0 and AutoGluon's zero-shot presets) from the public datasets of ../shared/bench.

    python benchmarks/learn_portfolio.py [--search-seconds 120] [--max-rows 10000] [--size 12]
        [--out src/sweepml/tabular/portfolio.json]

1. Candidates: on each dataset's training split (the benchmark's own 75% split; the test rows are
   never read), a TPE search of ``--search-seconds`` over the full pipeline space; its best
   ``--per-dataset`` pipelines of distinct families become candidates, beside every family's
   default.
2. Every candidate is scored on every dataset of its task (holdout or CV as in a fit, 2 workers,
   60 s per trial), giving a loss matrix; losses are normalized per dataset to
   (loss - best) / (median - best), clipped to [0, 1]: 0 is the best candidate there, 1 the
   median candidate or worse (the spread among good pipelines is what a portfolio decides).
3. Greedy selection: repeatedly add the candidate that most lowers the mean over datasets of the
   best normalized loss in the portfolio so far (ties: the cheaper one), until ``--size`` or until
   nothing lowers it.
4. Leave-one-dataset-out check: for each dataset, a portfolio learned without it, and the
   normalized loss of its first 4/8 configs on the held-out dataset beside the family defaults'
   and both together (a fit tries the portfolio, then the family defaults it lacks).

Rows are capped at ``--max-rows`` (stratified) so a run takes about 30 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import sweepml
from sweepml.exceptions import InvalidConfigError
from sweepml.execution import LocalExecutor
from sweepml.strategies import Warmstart
from sweepml.tabular.components import CLASSIFICATION, MODELS, REGRESSION
from sweepml.tabular.data import infer_column_types
from sweepml.tabular.evaluation import PipelineObjective, plan_evaluation
from sweepml.tabular.metrics import default_metric, get_metric
from sweepml.tabular.pipeline_space import pipeline_space
from sweepml.trial import TrialStatus

BENCH = Path(__file__).parents[1] / "../shared/bench"
DATASETS = {
    CLASSIFICATION: [
        "breast_cancer",
        "spam",
        "credit_data",
        "synthetic_200k",
        "digits",
        "vehicle",
        "satellite",
    ],
    REGRESSION: ["diabetes", "diamonds"],
}


def load_training_split(name: str) -> tuple[str, pd.DataFrame, np.ndarray]:
    """The benchmark's training rows of ``name`` (run.py's own split function)."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    kind, X, y, _, _, _ = run.load_split(str(BENCH / "data"), name)
    return kind, X, y


class Problem:
    """One dataset ready to score configs: its objective and pipeline space."""

    def __init__(self, name: str, max_rows: int, seed: int = 0) -> None:
        kind, X, y = load_training_split(name)
        self.name, self.task = name, REGRESSION if kind == "regression" else CLASSIFICATION
        if len(X) > max_rows:
            keep, _ = train_test_split(
                np.arange(len(X)),
                train_size=max_rows,
                random_state=seed,
                stratify=y if self.task == CLASSIFICATION else None,
            )
            X, y = X.iloc[np.sort(keep)].reset_index(drop=True), y[np.sort(keep)]
        n_classes = len(np.unique(y)) if self.task == CLASSIFICATION else 0
        metric = get_metric(default_metric(self.task, n_classes), self.task, owner="portfolio")
        columns = infer_column_types(X)
        plan = plan_evaluation(y, self.task, seed)
        self.objective = PipelineObjective(
            X, y, columns=columns, task=self.task, metric=metric, plan=plan,
            n_classes=n_classes, seed=seed,
        )  # fmt: skip
        self.space = pipeline_space(self.task, n_rows=len(X), n_features=X.shape[1])

    def defaults(self) -> list[dict[str, Any]]:
        return [
            pipeline_space(
                self.task,
                n_rows=len(self.objective.y),
                n_features=self.objective.X.shape[1],
                models=[name],
            ).default()
            for name in self.space["model"].options  # type: ignore[union-attr]
        ]

    def valid(self, config: dict[str, Any]) -> bool:
        try:
            self.space.validate(config)
        except InvalidConfigError:
            return False
        return True

    def run(self, strategy: Any, *, n_trials: int | None, seconds: float | None) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sweepml.minimize(
                self.objective,
                self.space,
                strategy=strategy,
                n_trials=n_trials,
                time_budget=seconds,
                n_workers=2,
                executor=LocalExecutor(
                    2, start_method="forkserver", preload=("sweepml.tabular.evaluation",)
                ),
                trial_timeout=60,
                seed=0,
                show_progress=False,
            )


def key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def candidates_of(problem: Problem, seconds: float, per_dataset: int) -> list[dict[str, Any]]:
    """The best configs of distinct families from a TPE search on ``problem``."""
    study = problem.run("tpe", n_trials=None, seconds=seconds)  # the defaults are candidates
    ranked = sorted((t for t in study.trials if t.status is TrialStatus.OK), key=lambda t: t.value)
    chosen: list[dict[str, Any]] = []
    for trial in ranked:
        if trial.config["model"] not in {c["model"] for c in chosen}:
            chosen.append(dict(trial.config))
        if len(chosen) == per_dataset:
            break
    print(f"  {problem.name}: {len(study.trials)} trials, best {ranked[0].value:.4f}", flush=True)
    return chosen


def loss_matrix(
    problems: list[Problem], candidates: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized loss and fit seconds of every candidate (rows) on every problem (columns);
    a candidate that is not valid for a problem's space, or fails there, scores 1."""
    normalized = np.ones((len(candidates), len(problems)))
    seconds = np.full((len(candidates), len(problems)), 60.0)
    for j, problem in enumerate(problems):
        valid = [c for c in candidates if problem.valid(c)]
        study = problem.run(Warmstart("random", valid), n_trials=len(valid), seconds=None)
        losses = {
            key(t.config): (t.value, t.metrics["fit_seconds"])
            for t in study.trials
            if t.status is TrialStatus.OK
        }
        raw = np.array([losses.get(key(c), (np.inf, 60.0))[0] for c in candidates])
        best = float(np.min(raw))
        span = max(float(np.median(raw[np.isfinite(raw)])) - best, 1e-12)
        normalized[:, j] = np.clip((raw - best) / span, 0.0, 1.0)
        seconds[:, j] = [losses.get(key(c), (np.inf, 60.0))[1] for c in candidates]
        print(f"  scored {len(valid)} candidates on {problem.name}", flush=True)
    return normalized, seconds


def greedy(normalized: np.ndarray, seconds: np.ndarray, size: int) -> list[int]:
    """Indices of the greedy portfolio: each step adds the candidate that lowers the mean
    best-so-far loss the most (ties: the cheaper); it stops at ``size`` or when no candidate
    lowers it any more (more configs would only cost trials)."""
    chosen: list[int] = []
    best_so_far = np.full(normalized.shape[1], np.inf)
    cost = seconds.mean(axis=1)
    while len(chosen) < min(size, len(normalized)):
        scores = [
            (np.mean(np.minimum(best_so_far, normalized[i])), cost[i], i)
            for i in range(len(normalized))
            if i not in chosen
        ]
        score, _, pick = min(scores)
        if chosen and score >= np.mean(best_so_far):
            break
        chosen.append(pick)
        best_so_far = np.minimum(best_so_far, normalized[pick])
    return chosen


def leave_one_out(
    normalized: np.ndarray, seconds: np.ndarray, defaults: list[int], names: list[str], size: int
) -> list[str]:
    lines = [
        "| held-out dataset | portfolio first 4 | first 8 | family defaults | first 8 + defaults |",
        "|---|---|---|---|---|",
    ]
    for j, name in enumerate(names):
        others = [k for k in range(len(names)) if k != j]
        order = greedy(normalized[:, others], seconds[:, others], size)
        first4, first8 = normalized[order[:4], j].min(), normalized[order[:8], j].min()
        default = normalized[defaults, j].min()
        lines.append(
            f"| {name} | {first4:.3f} | {first8:.3f} | {default:.3f} | {min(first8, default):.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search-seconds", type=float, default=120.0)
    parser.add_argument("--per-dataset", type=int, default=4)
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=12)
    parser.add_argument(
        "--out", default=str(Path(__file__).parents[1] / "src/sweepml/tabular/portfolio.json")
    )
    args = parser.parse_args()
    start = time.monotonic()
    result: dict[str, Any] = {
        "learned_with": "python benchmarks/learn_portfolio.py "
        f"--search-seconds {args.search_seconds:g} --per-dataset {args.per_dataset} "
        f"--max-rows {args.max_rows} --size {args.size}",
        "families_installed": sorted(MODELS),
    }
    for task, names in DATASETS.items():
        print(f"{task}: preparing {', '.join(names)}", flush=True)
        problems = [Problem(name, args.max_rows) for name in names]
        candidates: list[dict[str, Any]] = []
        sources: list[str] = []
        for problem in problems:
            for config in problem.defaults():
                if key(config) not in map(key, candidates):
                    candidates.append(config)
                    sources.append("default")
        n_defaults = len(candidates)
        for problem in problems:
            for config in candidates_of(problem, args.search_seconds, args.per_dataset):
                if key(config) not in map(key, candidates):
                    candidates.append(config)
                    sources.append(problem.name)
        normalized, seconds = loss_matrix(problems, candidates)
        order = greedy(normalized, seconds, args.size)
        curve = [float(np.mean(normalized[order[: k + 1]].min(axis=0))) for k in range(len(order))]
        defaults_only = float(np.mean(normalized[:n_defaults].min(axis=0)))
        print(f"{task}: mean normalized loss by portfolio size {np.round(curve, 3).tolist()}")
        print(f"{task}: all {n_defaults} family defaults together: {defaults_only:.3f}")
        for line in leave_one_out(normalized, seconds, list(range(n_defaults)), names, args.size):
            print(line)
        result[task] = {
            "datasets": names,
            "mean_normalized_loss_by_size": [round(v, 4) for v in curve],
            "family_defaults_mean_normalized_loss": round(defaults_only, 4),
            "configs": [{"source": sources[i], "config": candidates[i]} for i in order],
        }
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.out} in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
