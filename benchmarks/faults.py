"""Nothing lost under faults: drivers killed at random, driver overhead with several drivers, and
processes left behind by trials that start their own.

    python benchmarks/faults.py [--part kills|overhead|leftovers|all] [--seeds 0 1 2]

kills      4 drivers x 250 trials (n_trials=1000, a 20 ms objective; 2 workers each) on one study,
           10 random SIGKILLs of a driver (each restarted at once), on SQLite and on PostgreSQL
           (a throwaway local server, fsync on); the record audited against every finished trial
           seen between kills and against the objective's own log of its evaluations.
           Target: 1,000 trials recorded, 0 lost, 0 duplicated, 0 changed.
overhead   4 drivers, no-op objective, trials in the driver: trials per minute in total.
           Target: >= 1,000 on SQLite, >= 5,000 on PostgreSQL.
leftovers  1,000 trials, 4 workers, each objective forks, Popens and starts a process in a new
           session (and a double-forked one), then returns, times out or crashes: live processes
           left afterwards; and how long 20 quick trials take beside one that forks.
           Target: 0 processes left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sweepml
from sweepml.testing.faults import STUDY, DriverFleet

SPACE = {"x": sweepml.Float(-1, 1), "y": sweepml.Float(-1, 1)}


@contextlib.contextmanager
def backends(names: list[str]) -> Iterator[list[tuple[str, Callable[[Path], str]]]]:
    """(name, a function giving a fresh storage URL in a folder) for each backend asked for."""
    with contextlib.ExitStack() as stack:
        found: list[tuple[str, Callable[[Path], str]]] = []
        for name in names:
            if name == "sqlite":
                found.append((name, lambda folder: str(folder / "faults.db")))
            else:
                from sweepml.testing.postgres import create_database, temporary_server

                server = stack.enter_context(temporary_server(durable=True))
                found.append((name, lambda folder, server=server: create_database(server)))
        yield found


def part_kills(seeds: list[int], names: list[str]) -> None:
    print("\n## Drivers killed at random: 4 drivers, n_trials=1000, 10 SIGKILLs\n")
    print(
        "| storage | seed | kills | recorded | finished | interrupted and re-run once | "
        "evaluations logged | lost | duplicated | changed | left running | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with backends(names) as found:
        for name, url_in in found:
            for seed in seeds:
                with tempfile.TemporaryDirectory() as folder:
                    started = time.monotonic()
                    fleet = DriverFleet(
                        url_in(Path(folder)),
                        Path(folder),
                        drivers=4,
                        n_trials=1000,
                        pause=0.02,
                        workers=2,
                        seed=seed,
                    )
                    audit = fleet.run(kills=10, rng=random.Random(seed), between=(0.15, 0.6))
                    wall = time.monotonic() - started
                print(
                    f"| {name} | {seed} | {fleet.kills} | {audit.recorded} | {audit.finished} | "
                    f"{audit.interrupted - audit.not_retried} of {audit.interrupted} | "
                    f"{audit.evaluations} | {audit.lost} | {audit.duplicated} | {audit.changed} | "
                    f"{audit.left_running} | {wall:.1f} |",
                    flush=True,
                )
                for problem in audit.problems[:5]:
                    print(f"    problem: {problem}")


def part_overhead(names: list[str]) -> None:
    print("\n## Driver overhead: no-op objective, trials run in the driver\n")
    print("| storage | drivers | trials | wall s | trials / min |")
    print("|---|---|---|---|---|")
    with backends(names) as found:
        for name, url_in in found:
            for drivers, n_trials in ((1, 2000), (4, 8000)):
                with tempfile.TemporaryDirectory() as folder:
                    started = time.monotonic()
                    fleet = DriverFleet(
                        url_in(Path(folder)),
                        Path(folder),
                        drivers=drivers,
                        n_trials=n_trials,
                        pause=0.0,
                        workers=1,
                    )
                    audit = fleet.run(kills=0, rng=random.Random(0), between=(0, 0))
                    wall = time.monotonic() - started
                assert audit.ok, audit
                print(
                    f"| {name} | {drivers} | {n_trials} | {wall:.1f} | "
                    f"{n_trials / wall * 60:,.0f} |",
                    flush=True,
                )


def spawner(config: dict, trial: object = None) -> float:
    marker = config["marker"]
    subprocess.Popen(["sleep", marker])
    subprocess.Popen(["sleep", marker], start_new_session=True)
    subprocess.Popen(["sh", "-c", f"(setsid sleep {marker} &); exit 0"])
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", marker])
    end = config["end"]
    if end == "hang":
        time.sleep(60)
    elif end == "crash":
        os._exit(3)
    return 1.0


def quick(config: dict, trial: sweepml.Trial) -> float:
    if config["fork"] and trial.number == 3 and os.fork() == 0:  # keeps the trial's pipe open
        time.sleep(30)
        os._exit(0)
    return 1.0


def live_with(argument: str) -> int:
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        count += argument.encode() in cmdline and state != "Z"
    return count


def part_leftovers() -> None:
    print("\n## Processes left behind by 1,000 trials that start their own (4 workers)\n")
    print("| how trials end | trials | statuses | processes started | left alive | wall s |")
    print("|---|---|---|---|---|---|")
    marker = f"{os.getpid() % 997}.713"
    for end, n_trials, timeout in (("return", 700, 10.0), ("hang", 150, 0.5), ("crash", 150, 10.0)):
        started = time.monotonic()
        study = sweepml.minimize(
            spawner,
            {"marker": sweepml.Const(marker), "end": sweepml.Const(end)},
            strategy="random",
            n_trials=n_trials,
            n_workers=4,
            trial_timeout=timeout,
            seed=0,
            show_progress=False,
        )
        wall = time.monotonic() - started
        time.sleep(0.5)
        print(
            f"| {end} | {n_trials} | {study.status_counts()} | {4 * n_trials} | "
            f"{live_with(marker)} | {wall:.1f} |",
            flush=True,
        )
    print("\n## 20 quick trials beside one whose forked child keeps the result pipe open\n")
    print("| trials | one of them forks | wall s |")
    print("|---|---|---|")
    for forking in (False, True):
        space = {"x": sweepml.Float(0, 1), "fork": sweepml.Const(forking)}
        started = time.monotonic()
        sweepml.minimize(
            quick,
            space,
            strategy="random",
            n_trials=20,
            n_workers=2,
            executor="local",
            seed=0,
            show_progress=False,
        )
        print(
            f"| 20 | {'yes' if forking else 'no'} | {time.monotonic() - started:.2f} |", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["kills", "overhead", "leftovers", "all"], default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--storage", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    args = parser.parse_args()
    print(f"sweepml {sweepml.__version__}, Python {sys.version.split()[0]}, study {STUDY!r}")
    if args.part in ("kills", "all"):
        part_kills(args.seeds, args.storage)
    if args.part in ("overhead", "all"):
        part_overhead(args.storage)
    if args.part in ("leftovers", "all"):
        part_leftovers()


if __name__ == "__main__":
    main()
