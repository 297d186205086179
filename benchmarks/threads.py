"""Why a tabular trial fits with one thread, and a refit with the idle CPUs only.

    python benchmarks/threads.py [--busy 2] [--rows 1000 10000 50000]

Times HistGradientBoosting (scikit-learn's OpenMP) and LightGBM fits of 200 rounds on synthetic
data with one thread and with every CPU, while ``--busy`` processes keep CPUs busy (one per core:
the busy machine of the tabular benchmark; two fits at once: what two trials on two cores did
before issue 15's fix, ``--pairs``). Prints seconds per fit, one line per setting.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import lightgbm as lgb
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits


def fit_seconds(family: str, rows: int, threads: int) -> float:
    """Seconds of one fit of ``family`` on ``rows`` rows with ``threads`` threads."""
    X, y = make_classification(rows, 20, random_state=0)
    start = time.perf_counter()
    with threadpool_limits(limits=threads):
        if family == "hist_gradient_boosting":
            HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=0).fit(
                X, y
            )
        else:
            lgb.LGBMClassifier(n_estimators=200, n_jobs=threads, verbose=-1).fit(X, y)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes alongside")
    parser.add_argument("--pairs", action="store_true", help="two fits at once (two trials)")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    args = parser.parse_args(argv)
    cpus = os.cpu_count() or 1
    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(args.busy)
    ]
    try:
        time.sleep(1.0 if busy else 0.0)
        with ProcessPoolExecutor(2 if args.pairs else 1) as pool:
            for rows in args.rows:
                for family in ("hist_gradient_boosting", "lightgbm"):
                    for threads in sorted({1, cpus}):
                        jobs = [(family, rows, threads)] * (2 if args.pairs else 1)
                        seconds = list(pool.map(fit_seconds, *zip(*jobs, strict=True)))
                        print(
                            f"{family:<24} {rows:>7} rows  {threads} thread(s)  "
                            f"busy {args.busy}  {'two at once' if args.pairs else 'alone':<11} "
                            f"{max(seconds):6.2f} s",
                            flush=True,
                        )
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
