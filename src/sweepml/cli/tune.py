"""``sweepml tune FILE.py:FUNCTION --space SPEC ...``: search for the user's objective."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweepml.cli import CommandFailed
from sweepml.exceptions import InvalidParameterError
from sweepml.execution.hpc import WalltimeGuard
from sweepml.search import maximize, minimize
from sweepml.space import Int, Space
from sweepml.space.parse import fidelity_from_file
from sweepml.strategies import ASHA, BOHB, Hyperband, Strategy, SuccessiveHalving

MULTI_FIDELITY: dict[str, type[Strategy]] = {
    "successive_halving": SuccessiveHalving,
    "hyperband": Hyperband,
    "asha": ASHA,
    "bohb": BOHB,
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "tune",
        help="search a space for the best config of FILE.py:FUNCTION",
        description="Run FUNCTION(config) from FILE.py on configs drawn from the space in SPEC "
        "(YAML or JSON) and record every trial in the storage. Run the same command again to "
        "resume an interrupted search.",
    )
    parser.add_argument("target", metavar="FILE.py:FUNCTION", help="the objective to call")
    parser.add_argument("--space", required=True, metavar="SPEC", help="space spec file")
    parser.add_argument("--trials", type=int, metavar="N", help="stop after N finished trials")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds for the whole search (running trials are cancelled)",
    )
    parser.add_argument(
        "--patience", type=int, metavar="K", help="stop after K trials without improvement"
    )
    parser.add_argument("--workers", type=int, default=1, metavar="W", help="parallel trials")
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run trials on the Dask scheduler at ADDRESS (tcp://host:8786); every worker "
        "thread runs trials (needs sweepml[dask])",
    )
    parser.add_argument(
        "--walltime",
        metavar="HH:MM:SS",
        help="stop --walltime-margin seconds before this much time has passed (the batch job's "
        "walltime), so that the next job resumes cleanly; inside a SLURM job the job's end is "
        "used when this is 'job'",
    )
    parser.add_argument(
        "--walltime-margin", type=float, default=300, metavar="S", help="default: 300"
    )
    parser.add_argument("--trial-timeout", type=float, metavar="S", help="seconds per trial")
    parser.add_argument("--trial-memory", type=float, metavar="MB", help="MiB per trial")
    parser.add_argument(
        "--storage",
        metavar="DB",
        help="the record: a SQLite file, or a postgresql://user@host/db URL that drivers on "
        "several machines share (needs sweepml[postgres])",
    )
    parser.add_argument("--study", metavar="NAME", help="study name (default: FUNCTION)")
    parser.add_argument(
        "--strategy",
        default="tpe",
        metavar="NAME",
        help="random, grid, tpe, cmaes, evolution, with fidelities successive_halving, "
        "hyperband, asha, bohb, and with the nas extra reinforce, pnas (default: tpe)",
    )
    parser.add_argument(
        "--min-budget",
        type=float,
        metavar="B",
        help="smallest budget of a multi-fidelity strategy (default: the spec's fidelity entry)",
    )
    parser.add_argument(
        "--max-budget", type=float, metavar="B", help="largest budget (default: the spec's)"
    )
    parser.add_argument("--eta", type=float, default=3, metavar="F", help="budget factor (3)")
    parser.add_argument("--pruner", choices=["median", "asha"], help="stop lagging trials early")
    parser.add_argument("--maximize", action="store_true", help="maximize instead of minimize")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed")
    parser.add_argument("--top", type=int, default=10, metavar="K", help="rows of the leaderboard")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run, flags=FLAGS)


#: minimize's parameters, named as the flags that set them (for error messages)
FLAGS = {
    "n_trials": "--trials",
    "time_budget": "--timeout",
    "patience": "--patience",
    "n_workers": "--workers",
    "trial_timeout": "--trial-timeout",
    "trial_memory_mb": "--trial-memory",
    "storage": "--storage",
    "study_name": "--study",
    "strategy": "--strategy",
    "seed": "--seed",
    "cluster": "--cluster",
    "pruner": "--pruner",
}


def load_objective(target: str) -> Callable[..., Any]:
    """Import FUNCTION from FILE.py, as the module named after the file (so that worker
    processes started with spawn can import it too)."""
    file_part, sep, function = target.rpartition(":")
    if not sep or not file_part or not function:
        raise InvalidParameterError(
            f"The objective must be given as FILE.py:FUNCTION; got {target!r}."
        )
    path = Path(file_part)
    if not path.is_file():
        raise InvalidParameterError(f"Objective file {file_part!r} does not exist.")
    module_name = path.stem
    sys.path.insert(0, str(path.resolve().parent))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InvalidParameterError(f"Objective file {file_part!r} is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        raise CommandFailed(f"Importing {file_part!r} failed: {last}") from exc
    objective = getattr(module, function, None)
    if not callable(objective):
        names = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", None) == module_name
        )
        raise InvalidParameterError(
            f"{file_part!r} has no function {function!r}; its functions are {names}."
        )
    return objective


def run(args: argparse.Namespace) -> int:
    from sweepml.cli.show import print_study

    if args.trials is None and args.timeout is None and args.patience is None:
        raise InvalidParameterError(
            "sweepml tune needs a budget: --trials N, --timeout S or --patience K (or several)."
        )
    objective = load_objective(args.target)
    if args.cluster:  # ship the objective's file with it: workers need not have it
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[objective.__module__])
    space = Space.from_file(args.space)
    strategy: str | Strategy = args.strategy
    if args.strategy in MULTI_FIDELITY:
        space, strategy = _with_fidelity(args, space)
    search = maximize if args.maximize else minimize
    study = search(
        objective,
        space,
        strategy=strategy,
        pruner=args.pruner,
        cluster=args.cluster,
        callbacks=_walltime_guard(args),
        n_trials=args.trials,
        time_budget=args.timeout,
        patience=args.patience,
        n_workers=args.workers,
        trial_timeout=args.trial_timeout,
        trial_memory_mb=args.trial_memory,
        storage=args.storage,
        study_name=args.study or args.target.rpartition(":")[2],
        seed=args.seed,
        show_progress=False if args.no_progress else None,
    )
    print_study(study, top=args.top)
    return 0


def _with_fidelity(args: argparse.Namespace, space: Space) -> tuple[Space, Strategy]:
    """The space without its fidelity entry, and the strategy over the budget range."""
    entry = fidelity_from_file(args.space)
    low: float | None = args.min_budget
    high: float | None = args.max_budget
    if entry is not None:
        low = entry.lower if low is None else low
        high = entry.upper if high is None else high
    if low is None or high is None:
        raise InvalidParameterError(
            f"--strategy {args.strategy} needs a budget range: mark one integer or numeric entry "
            f"of {args.space!r} with 'fidelity: true', or pass --min-budget and --max-budget."
        )
    whole = entry is not None and isinstance(space.all_params[entry.name], Int)
    if whole or (float(low).is_integer() and float(high).is_integer()):
        low, high = int(low), int(high)  # epochs stay whole numbers
    if entry is not None:
        space = Space({k: v for k, v in space.items() if k != entry.name})
    cls = MULTI_FIDELITY[args.strategy]
    return space, cls(min_budget=low, max_budget=high, eta=args.eta)  # type: ignore[call-arg]


def _walltime_guard(args: argparse.Namespace) -> list[WalltimeGuard]:
    if args.walltime is None:
        return []
    walltime = None if args.walltime == "job" else args.walltime
    return [WalltimeGuard(walltime=walltime, margin=args.walltime_margin)]
