"""Scaling of the search: models per hour on real workers, and what one driver can keep busy.

(a) ``--part workers``: models per hour with 1 and 2 workers on real scikit-learn trials
    (a random forest on the bundled digits, ~0.5 s each), with the local executor and the Dask
    executor (a LocalCluster), and the parallel efficiency against ideal (2x).
(b) ``--part driver``: the study loop with a simulated executor: a virtual clock, 1,000
    simulated workers, log-normal trial durations (median 60 s, sigma 0.5). Each trial's result
    is computed at once; the virtual clock jumps to the next trial end while the driver idles,
    and runs with the real clock while the driver works (ask, tell, two SQLite commits per
    trial). Sustained trials per real minute is the driver's capacity; a worker idles from the
    end of its trial until the driver hands it the next one, which gives the utilization.

Run:
    python benchmarks/scaling.py --part workers      # ~2 min on 2 cores
    python benchmarks/scaling.py --part driver       # ~3 min
"""

from __future__ import annotations

import argparse
import heapq
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

import sweepml
from sweepml.execution.base import Executor
from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask
from sweepml.testing.objectives import sphere

# -- (a) real workers ---------------------------------------------------------------------------
DIGITS = load_digits(return_X_y=True)


def forest(config: dict) -> float:
    """A random forest, 3-fold cross-validated on digits (imports and data are loaded once, at
    module level, as a user's script does, so that forked trials inherit them)."""
    x, y = DIGITS
    model = RandomForestClassifier(n_estimators=config["trees"], max_depth=config["depth"],
                                   n_jobs=1, random_state=0)  # fmt: skip
    return float(cross_val_score(model, x, y, cv=3).mean())


def part_workers(n_trials: int) -> None:
    from sweepml import Int

    space = {"trees": Int(40, 60), "depth": Int(4, 16)}
    rows = []
    for executor in ("local", "dask"):
        rates = {}
        for workers in (1, 2):
            started = time.perf_counter()
            study = sweepml.maximize(forest, space, strategy="random", n_trials=n_trials,
                                     n_workers=workers, executor=executor, seed=0,
                                     show_progress=False)  # fmt: skip
            seconds = time.perf_counter() - started
            assert study.status_counts() == {"OK": n_trials}, study.status_counts()
            trial_seconds = np.median([t.duration for t in study.trials])
            rates[workers] = n_trials / seconds * 3600
            rows.append((executor, workers, seconds, trial_seconds, rates[workers]))
        efficiency = rates[2] / (2 * rates[1])
        rows.append((executor, "2 vs 1", None, None, efficiency))
    print("| executor | workers | wall s | median trial s | models / hour |")
    print("|---|---|---|---|---|")
    for executor, workers, seconds, trial, rate in rows:
        if seconds is None:
            print(f"| {executor} | efficiency 2 vs 1 | | | {rate:.2f} of ideal |")
        else:
            print(f"| {executor} | {workers} | {seconds:.1f} | {trial:.2f} | {rate:,.0f} |")


# -- (b) driver capacity ------------------------------------------------------------------------
class VirtualClock:
    """Virtual seconds: real time while the driver works, jumps while it waits."""

    def __init__(self) -> None:
        self.offset = -time.perf_counter()

    def now(self) -> float:
        return self.offset + time.perf_counter()

    def advance_to(self, moment: float) -> None:
        if moment > self.now():
            self.offset += moment - self.now()


class SimulatedExecutor(Executor):
    """``n_workers`` simulated workers whose trials take log-normal virtual time."""

    name = "simulated"
    enforces_limits = True

    def __init__(self, n_workers: int, *, median: float = 60.0, sigma: float = 0.5) -> None:
        super().__init__(n_workers)
        self.clock = VirtualClock()
        self.rng = np.random.default_rng(0)
        self.median, self.sigma = median, sigma
        self.ends: list[tuple[float, int, TrialTask]] = []
        self.free_since: list[float] = []  # virtual moments a worker became free
        self.busy = 0.0
        self.idle = 0.0
        self.finished_real: list[float] = []  # real clock at each result
        self.runner: ObjectiveRunner | None = None

    def start(self, runner: ObjectiveRunner) -> None:
        self.runner = runner
        self.free_since = [self.clock.now()] * self.n_workers

    @property
    def n_running(self) -> int:
        return len(self.ends)

    def submit(self, task: TrialTask) -> None:
        now = self.clock.now()
        self.idle += now - self.free_since.pop()
        duration = float(self.median * np.exp(self.sigma * self.rng.standard_normal()))
        self.busy += duration
        heapq.heappush(self.ends, (now + duration, task.number, task))

    def wait(self, timeout: float | None) -> list[TrialResult]:
        if not self.ends:
            return []
        self.clock.advance_to(self.ends[0][0])
        results = []
        now = self.clock.now()
        while self.ends and self.ends[0][0] <= now:
            end, _, task = heapq.heappop(self.ends)
            assert self.runner is not None
            results.append(self.runner(task, lambda step, value: None))
            self.free_since.append(end)
            self.finished_real.append(time.perf_counter())
        return results

    def cancel(self, reason: str) -> list[TrialResult]:
        from sweepml.trial import TrialStatus

        running, self.ends = self.ends, []
        return [TrialResult(t.number, TrialStatus.INTERRUPTED, error=reason) for *_, t in running]


def part_driver(strategy: str, n_trials: int, workers: int, window: int) -> None:
    from sweepml import Float

    space = {f"x{i}": Float(-5, 5) for i in range(5)}
    executor = SimulatedExecutor(workers)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        study = sweepml.minimize(sphere, space, strategy=strategy, n_trials=n_trials,
                                 n_workers=workers, executor=executor,
                                 storage=Path(folder) / "sim.db", seed=0,
                                 show_progress=False)  # fmt: skip
        real = time.perf_counter() - started
        assert len(study.trials) >= n_trials
    virtual = executor.clock.now()
    # idle = time workers spent waiting for the driver to hand them a trial (ends of the run,
    # when no trial is left to give, do not count)
    utilization = executor.busy / (executor.busy + executor.idle)
    stamps = np.array(executor.finished_real)
    print(f"\n{strategy}: {n_trials} trials, {workers} simulated workers, median trial 60 s")
    print(
        f"driver real time {real:.1f} s = {n_trials / real * 60:,.0f} trials per minute; "
        f"virtual time {virtual / 60:.1f} min; worker utilization {utilization:.3f}; "
        f"mean wait for the driver {executor.idle / n_trials * 1000:.1f} ms per trial"
    )
    print("| trials finished | driver trials / min in this window |")
    print("|---|---|")
    for end in range(window, len(stamps) + 1, window):
        seconds = stamps[end - 1] - stamps[end - window]
        print(f"| {end - window}-{end} | {window / seconds * 60:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["workers", "driver"], required=True)
    parser.add_argument("--trials", type=int)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--strategy", nargs="+", default=["random", "tpe"])
    args = parser.parse_args()
    if args.part == "workers":
        part_workers(args.trials or 40)
        return
    for strategy in args.strategy:
        n = args.trials or (20_000 if strategy == "random" else 3_000)
        part_driver(strategy, n, args.workers, window=max(n // 10, 1))


if __name__ == "__main__":
    main()
