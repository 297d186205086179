"""Scripts without ``if __name__ == "__main__":``, and the worker processes that re-run them.

A worker started by ``spawn`` or ``forkserver`` (and each Dask LocalCluster worker) imports the
user's main script again, to find what was defined there. A script that starts a search at its
top level, unguarded, would then start the search again inside every worker, and multiprocessing
stops that with a long traceback about the "bootstrapping phase" (and a BrokenPipeError in the
parent). sweepml handles it two ways:

- trials that run only sweepml's own code (a tabular fit, an ``ImageClassifier``) hide the main
  script from their workers (``hidden_main``), so an unguarded script just works;
- a search whose workers need the script (the objective is defined in it) checks before starting
  any worker and stops at once with one message that shows the guard (``refuse_unguarded``).
"""

from __future__ import annotations

import ast
import contextlib
import multiprocessing
import sys
from collections.abc import Iterator
from types import FrameType

from sweepml.exceptions import UnguardedScriptError

__all__ = [
    "UnguardedScriptError",
    "defined_in_main",
    "hidden_main",
    "refuse_unguarded",
    "unguarded_line",
]


def _guarded(node: ast.AST) -> bool:
    """Whether ``node`` is the test ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return False
    if not isinstance(node.ops[0], ast.Eq):
        return False
    sides = [node.left, node.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and mains)


def _main_frame() -> FrameType | None:
    """The outermost frame running the main script's top-level code, if the call comes from it."""
    main = sys.modules.get("__main__")
    frame = sys._getframe(1)
    found = None
    while frame is not None:
        if (
            frame.f_globals is getattr(main, "__dict__", None)
            and frame.f_code.co_name == "<module>"
        ):
            found = frame
        frame = frame.f_back  # type: ignore[assignment]
    return found


def unguarded_line() -> int | None:
    """The line of the main script, run at its top level outside an ``if __name__ ==
    "__main__":`` block, that led to this call; None when the call is guarded, or comes from an
    interactive session, a notebook or ``python -c`` (whose workers import nothing again)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or sys.modules["__main__"].__name__ != "__main__":
        return None
    frame = _main_frame()
    if frame is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read())
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or not _guarded(node.test):
            continue
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            return None
    return line


def refuse_unguarded(what: str) -> None:
    """Stop with one clear message when ``what`` would start workers that re-run an unguarded
    main script (or when this process is such a worker, importing the script again)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise UnguardedScriptError(_message(what, None))
    line = unguarded_line()
    if line is not None:
        raise UnguardedScriptError(_message(what, line))


def _message(what: str, line: int | None) -> str:
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", "the script")
    where = f" (line {line})" if line is not None else ""
    return (
        f"{what} starts worker processes that import {script} again, and the script starts "
        f"the search at its top level{where}, so each worker would start it again. Put the "
        f"script's main code under a guard:\n\n"
        f'    if __name__ == "__main__":\n'
        f"        ...  # the code that starts the search\n\n"
        f"(or use executor='local' with the default 'fork' start method, which imports nothing "
        f"again)."
    )


@contextlib.contextmanager
def hidden_main() -> Iterator[None]:
    """Start processes that will not import the main script: for workers that run only sweepml's
    own code, so that an unguarded script works. multiprocessing decides from ``__main__``'s
    ``__file__`` and ``__spec__`` what a spawn or forkserver child imports again."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, object] = {
        name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None  # multiprocessing reads __spec__.name: keep the attribute
    try:
        yield
    finally:
        main.__dict__.update(saved)


def defined_in_main(obj: object) -> bool:
    """Whether unpickling ``obj`` in a worker needs the main script (a function or class of it,
    or an instance of one of its classes)."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = type(obj).__module__
    return module in ("__main__", "__mp_main__") or type(obj).__module__ == "__main__"
