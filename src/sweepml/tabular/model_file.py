"""Which versions a saved model was fit with, and the check that refuses a model file made by a
newer major version than this environment's (its pickle may load and then fail or mispredict)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from sweepml.exceptions import InvalidParameterError

__all__ = ["checked_load", "fitted_versions"]

CHECKED = ("sweepml", "scikit-learn")


def fitted_versions() -> dict[str, str]:
    """sweepml's and scikit-learn's versions, recorded with a fitted model."""
    import sklearn

    from sweepml import __version__

    return {"sweepml": __version__, "scikit-learn": sklearn.__version__}


def checked_load(name: str, load: Callable[[], Any]) -> Any:
    """``load()``'s model, or an ``InvalidParameterError`` naming ``name`` when the model was fit
    with a newer major version of sweepml or scikit-learn than is installed. scikit-learn's own
    warning gives its version for a file that did not record one."""
    from sklearn.exceptions import InconsistentVersionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        model = load()
    recorded = dict(getattr(model, "versions_", None) or {})
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            recorded.setdefault("scikit-learn", warning.message.original_sklearn_version)
    installed = fitted_versions()
    for library in CHECKED:
        saved = recorded.get(library)
        if saved is not None and _major(saved) > _major(installed[library]):
            raise InvalidParameterError(
                f"{name!r} was saved with {library} {saved}; this environment has "
                f"{installed[library]}. Install {library}>={_major(saved)} to load it."
            )
    for warning in caught:  # other warnings reach the caller as they were
        if not isinstance(warning.message, InconsistentVersionWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return model


def _major(version: str) -> int:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else 0
