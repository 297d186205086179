"""Where trials leave their validation predictions, and how they are read back.

Each trial writes ``<number>.npy`` (class probabilities or values for the validation rows) into
the fit's prediction folder; ensemble selection reads the best ones. With a SQLite storage the
folder sits beside the file, so a resumed fit ensembles the trials of its earlier runs too. A file
is read as plain numbers, never unpickled: the folder is on disk and anyone may have written to it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sweepml.tabular.refit import families_first, ranked
from sweepml.trial import TrialRecord

__all__ = ["prediction_store", "read_prediction", "saved_predictions"]


@contextlib.contextmanager
def prediction_store(storage: Any, study_name: str) -> Iterator[Path]:
    """The folder where trials leave their validation predictions for ensemble selection: beside
    a SQLite storage file (``<file>.predictions/<study>``), so that a resumed fit ensembles the
    trials of its earlier runs too; otherwise a temporary folder, removed after the fit."""
    if isinstance(storage, str | os.PathLike):
        path = os.fspath(storage).removeprefix("sqlite:///")
        folder = Path(path + ".predictions") / study_name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="sweepml-") as folder_name:
        yield Path(folder_name)


def saved_predictions(
    trials: list[TrialRecord], folder: Path, y_valid: np.ndarray, *, limit: int
) -> tuple[list[TrialRecord], list[np.ndarray]]:
    """Up to ``limit`` of the best trials that left validation predictions in ``folder``, with
    those predictions (an earlier run's of another split is skipped), best first.

    The best trial of every model family comes in before the other trials in rank order, and a
    trial whose predictions repeat a chosen one's is left out. A converged search fills its top
    ranks with one pipeline under settings that change nothing (``max_features`` over six
    columns, a percentile that keeps the same features): ranked alone, the candidates were
    twenty copies of one model, and ensemble selection and bagging had nothing to combine.
    """
    order = ranked(trials)
    kept: dict[int, np.ndarray] = {}
    for trial in families_first(order):
        if len(kept) >= limit:
            break
        prediction = read_prediction(folder / f"{trial.number}.npy")
        if prediction is None or len(prediction) != len(y_valid):
            continue
        if any(np.array_equal(prediction, chosen) for chosen in kept.values()):
            continue
        kept[trial.number] = prediction
    candidates = [t for t in order if t.number in kept]
    return candidates, [kept[t.number] for t in candidates]


def read_prediction(path: Path) -> np.ndarray | None:
    """A trial's saved validation predictions, or None when it left none.

    The file is read as plain numbers (never unpickled). One that is not what a trial writes (a
    float array of one or two dimensions) is left out with a warning naming it, and the fit goes
    on without that trial in the ensemble.
    """
    if not path.exists():
        return None
    try:
        prediction = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).split("\n")[0]
    else:
        if prediction.dtype.kind in "fiu" and prediction.ndim in (1, 2):
            return np.asarray(prediction, dtype=float)
        reason = f"a {prediction.dtype} array of {prediction.ndim} dimensions"
    warnings.warn(
        f"Ignoring {str(path)!r}: it is not a prediction file sweepml wrote ({reason}); its "
        f"trial is left out of the ensemble.",
        stacklevel=2,
    )
    return None
