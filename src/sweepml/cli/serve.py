"""``sweepml serve MODEL``: answer prediction requests over HTTP (MLflow's scoring protocol).

The model is loaded and checked before the port opens, so a bad file is a one-line error and
exit code 2, never a server that answers 500. Under ``--workers N`` each worker process loads it
again before it answers. SIGTERM (or Ctrl-C) drains: requests in flight finish, new connections
are refused, the process exits 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sweepml.exceptions import InvalidParameterError

GRACEFUL_SECONDS = 30  # the most a drain waits for requests in flight


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve a saved tabular model or an ImageClassifier export over HTTP",
        description="Answer POST /invocations (MLflow's JSON formats or CSV) with the model's "
        "predictions; GET /ping, /health, /version and /metadata describe it. MODEL is a "
        "pickle: loading it runs code from it, so serve only model files you made or trust "
        "like code. Needs the serve extra: pip install 'sweepml[serve]'.",
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model file from `sweepml fit --model` (or save), or an ImageClassifier's export "
        "folder",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes")
    parser.add_argument(
        "--max-rows", type=int, default=100_000, metavar="N", help="most rows per request"
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=32.0, metavar="MB", help="largest request body"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="seconds a prediction may take"
    )
    parser.add_argument(
        "--max-batch-rows",
        type=int,
        default=1_000,
        metavar="N",
        help="most rows one model call takes from requests that arrive together (1: no "
        "batching; a larger request is predicted alone)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="threads one model call may use in each worker (more help only large batches; "
        "use --workers for more cores)",
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="predict each model of the ensemble through its scikit-learn pipeline, not its "
        "compiled form (the same numbers, checked when the model loads; one row in 0.2 ms "
        "instead of 8 ms of CPU)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _check(args)
    try:
        import starlette  # noqa: F401 - the application's framework: missing, say so now
        import uvicorn
    except ImportError as exc:
        raise InvalidParameterError(
            f"sweepml serve needs the serve extra ({exc.name} is not installed): "
            f"pip install 'sweepml[serve]'."
        ) from exc
    from sweepml.serve.settings import ServeSettings, settings_environment

    settings = ServeSettings(
        model=os.path.abspath(args.model),
        max_rows=args.max_rows,
        max_body_mb=args.max_body_mb,
        timeout=args.timeout,
        max_batch_rows=args.max_batch_rows,
        threads=args.threads,
        compiled=not args.no_compile,
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": _log_config(),
        "access_log": False,  # the app logs one line per request itself
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "lifespan": "off",
    }
    # a bad file fails here, before the port opens
    if args.workers == 1:
        from sweepml.serve.app import build_app
        from sweepml.serve.service import load_service

        service = load_service(args.model, compiled=settings.compiled)
        app: Any = build_app(service, settings)
        task = service.task
    else:  # each worker loads its own; this process, their supervisor, loads none
        task = _checked_apart(settings.model, settings.compiled)
        os.environ.update(settings_environment(settings))
        app = "sweepml.serve.app:app_from_environment"
        common.update(factory=True, workers=args.workers)
    print(f"sweepml: serving {args.model} ({task}) on http://{args.host}:{args.port}", flush=True)
    # uvicorn drains on SIGTERM or Ctrl-C, then restores these handlers and raises the signal
    # again; a drained server has done what was asked of it, so it exits 0
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _drained)
    uvicorn.run(app, **common)
    return 0


def _checked_apart(model: str, compiled: bool) -> str:
    """The model's task, from loading it in a process of its own: the workers of ``--workers N``
    each load it again, and their supervisor would otherwise keep the model's libraries (pandas,
    scikit-learn, LightGBM: 200 MB) for nothing. A bad file raises its one-line error here."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(_task_of, model, compiled).result()
        except BrokenProcessPool as exc:
            raise InvalidParameterError(
                f"{model}: the process that loaded it to check it ended abruptly (out of memory, "
                f"or a library crashed); the workers would fail the same way."
            ) from exc


def _task_of(model: str, compiled: bool) -> str:
    """The model's task, loaded as a worker loads it (run by ``_checked_apart``)."""
    from sweepml.serve.service import load_service

    return load_service(model, compiled=compiled).task


def _drained(signum: int, frame: Any) -> None:
    """The signal uvicorn raises again after its drain: nothing is left to do."""


def _check(args: argparse.Namespace) -> None:
    problems = [
        (not 0 <= args.port <= 65535, f"--port must be 0-65535; got {args.port}."),
        (args.workers < 1, f"--workers must be at least 1; got {args.workers}."),
        (args.max_rows < 1, f"--max-rows must be at least 1; got {args.max_rows}."),
        (not args.max_body_mb > 0, f"--max-body-mb must be above 0; got {args.max_body_mb}."),
        (not args.timeout > 0, f"--timeout must be above 0 seconds; got {args.timeout}."),
        (
            args.max_batch_rows < 1,
            f"--max-batch-rows must be at least 1; got {args.max_batch_rows}.",
        ),
        (
            args.threads < 1,
            f"--threads must be at least 1; got {args.threads}.",
        ),
    ]
    for failed, message in problems:
        if failed:
            raise InvalidParameterError(message)


def _log_config() -> dict[str, Any]:
    """uvicorn's messages and sweepml's request lines, one per line on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "sweepml.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
