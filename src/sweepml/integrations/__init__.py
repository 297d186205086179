"""sweepml beside the tools teams already keep their work in: MLflow, for now.

``MLflowCallback`` logs every trial of a search to an MLflow tracking server; ``export(path,
format="mlflow")`` on the tabular estimators and ``ImageClassifier`` writes an MLflow pyfunc
model. Both need the optional extra ``mlflow`` (``pip install 'sweepml[mlflow]'``), imported only
when used, so ``import sweepml.integrations`` works without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sweepml.exceptions import SweepmlError

if TYPE_CHECKING:
    from sweepml.integrations.mlflow_tracking import MLflowCallback

__all__ = ["MLflowCallback", "mlflow_saver"]

MLFLOW_MISSING = "needs MLflow, which is not installed: pip install 'sweepml[mlflow]'."


def _mlflow_module(name: str, what: str) -> Any:
    try:
        return importlib.import_module(f"sweepml.integrations.{name}")
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "mlflow":
            raise
        raise SweepmlError(f"{what} {MLFLOW_MISSING}") from None


def mlflow_saver(name: str) -> Callable[..., Any]:
    """``save_tabular_model`` or ``save_image_model``, or a clear error without MLflow."""
    return getattr(_mlflow_module("mlflow_model", "export(format='mlflow')"), name)  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    if name == "MLflowCallback":
        return _mlflow_module("mlflow_tracking", "MLflowCallback").MLflowCallback
    raise AttributeError(f"module 'sweepml.integrations' has no attribute {name!r}")
