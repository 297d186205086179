"""Export a fitted pipeline as a standalone, readable Python script.

The script needs scikit-learn and pandas (and LightGBM, XGBoost or CatBoost when a member uses
one), not sweepml: the
few helpers the pipeline uses are written into it. Estimators are written with scikit-learn's
own ``repr`` (only the parameters that differ from the defaults), which is valid Python.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sweepml.tabular.components import preprocessing
from sweepml.tabular.data import ColumnTypes, DatetimeFeatures
from sweepml.tabular.stacking import PROBABILITY_FLOOR

__all__ = ["pipeline_script"]

_LIBRARIES = ("sklearn", "lightgbm", "xgboost", "catboost")
_HELPERS = (preprocessing.as_strings, preprocessing.as_float)


def _code(estimator: Any, indent: int = 8) -> str:
    """Python source that builds ``estimator`` (nested pipelines and column transformers too)."""
    pad = " " * indent
    if isinstance(estimator, Pipeline):
        steps = ",\n".join(
            f'{pad}    ("{name}", {_code(step, indent + 4)})' for name, step in estimator.steps
        )
        return f"Pipeline([\n{steps},\n{pad}])"
    if estimator.__class__.__name__ == "ColumnTransformer":
        parts = ",\n".join(
            f'{pad}    ("{name}", {_code(step, indent + 4)}, {name.upper()})'
            for name, step, _ in estimator.transformers
        )
        return f"ColumnTransformer([\n{parts},\n{pad}], sparse_threshold=0.0)"
    if isinstance(estimator, FunctionTransformer):
        return f"FunctionTransformer({estimator.func.__name__})"
    if isinstance(estimator, str):
        return repr(estimator)
    if type(estimator).__module__.startswith(("xgboost", "catboost")):
        return _changed_params_call(estimator)
    with sklearn.config_context(print_changed_only=True):
        text = repr(estimator)
    return " ".join(text.split())  # repr wraps long lines; one logical line reads fine


def _changed_params_call(estimator: Any) -> str:
    """``Name(param=value, ...)`` with the parameters that differ from the class's defaults, for
    libraries whose ``repr`` is not Python (XGBoost truncates it, CatBoost has none)."""
    defaults = type(estimator)().get_params()
    changed = {
        key: value
        for key, value in sorted(estimator.get_params().items())
        if not (key in defaults and repr(defaults[key]) == repr(value))
    }
    return f"{type(estimator).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


def _imports(pipelines: Sequence[Pipeline], *, datetime: bool, classification: bool) -> list[str]:
    """``from module import Name`` lines for every class the pipelines (and the script) use."""
    found: dict[str, set[str]] = {"typing": {"Any"}}
    if datetime:
        found["sklearn.base"] = {"BaseEstimator", "TransformerMixin"}
    if classification:
        found["sklearn.preprocessing"] = {"LabelEncoder"}

    def visit(obj: Any) -> None:
        if isinstance(obj, list | tuple):
            for item in obj:
                visit(item)
            return
        module = type(obj).__module__
        if not module.startswith(_LIBRARIES) or inspect.isroutine(obj):
            return
        public = module.split("._")[0] if module.startswith("sklearn") else module.split(".")[0]
        found.setdefault(public, set()).add(type(obj).__name__)
        if hasattr(obj, "get_params"):
            for value in obj.get_params(deep=False).values():
                visit(value)
        for attr in ("steps", "transformers"):
            visit([part[1] for part in getattr(obj, attr, [])])

    visit(list(pipelines))
    lines = [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(found.items())]
    return [line for line in lines if line.startswith("from typing")] + [
        line for line in lines if not line.startswith("from typing")
    ]


_MAIN = """\
def read(path):
    parquet = str(path).endswith(".parquet")
    frame = pd.read_parquet(path) if parquet else pd.read_csv(path)
    for column in DATETIME:
        frame[column] = pd.to_datetime(frame[column], errors="coerce")
    return frame


if __name__ == "__main__":
    train = read(sys.argv[1])
    labels = LABELS
    target = labels.fit_transform(train[TARGET]) if labels else train[TARGET]
    members = [(w, p.fit(train[FEATURES], target)) for w, p in build_members()]
    if len(sys.argv) > 2:
        new = read(sys.argv[2])
        outputs = [np.asarray(p.OUTPUT(new[FEATURES]), dtype=float) for _, p in members]
        result = combine([w for w, _ in members], outputs)
        columns = COLUMNS
        table = pd.DataFrame(result.reshape(len(new), -1), columns=columns)
        out = sys.argv[3] if len(sys.argv) > 3 else "predictions.csv"
        table.to_csv(out, index=False)
        print(f"wrote {len(table)} predictions to {out}")
"""


_AVERAGE = '''
def combine(weights, outputs):
    """The members' weighted average."""
    return sum(w * o for w, o in zip(weights, outputs))
'''

_STACKED_CLASSIFIER = '''
STACK_COEF = np.array(@COEF@)
STACK_INTERCEPT = np.array(@INTERCEPT@)


def combine(weights, outputs):
    """The stack layer: a logistic regression over the members' log-probabilities (fit on
    their out-of-fold predictions during the search; the weights only record the selection)."""
    features = np.log(np.clip(np.column_stack(outputs), @FLOOR@, 1.0))
    z = features @ STACK_COEF.T + STACK_INTERCEPT
    if z.shape[1] == 1:  # two classes
        positive = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
'''

_STACKED_REGRESSOR = '''
STACK_COEF = np.array(@COEF@)
STACK_INTERCEPT = @INTERCEPT@


def combine(weights, outputs):
    """The stack layer: non-negative least squares over the members' predictions (fit on their
    out-of-fold predictions during the search; the weights only record the selection)."""
    return np.column_stack(outputs) @ STACK_COEF + STACK_INTERCEPT
'''


def _combiner(stacker: Any, task: str) -> str:
    """The script's ``combine``: the weighted average, or the fitted stack layer as literals."""
    if stacker is None:
        return _AVERAGE
    coef = repr(np.asarray(stacker.coef_).tolist())
    intercept = repr(np.asarray(stacker.intercept_).tolist())
    template = _STACKED_CLASSIFIER if task == "classification" else _STACKED_REGRESSOR
    return (
        template.replace("@COEF@", coef)
        .replace("@INTERCEPT@", intercept)
        .replace("@FLOOR@", repr(PROBABILITY_FLOOR))
    )


def pipeline_script(
    members: Sequence[tuple[float, Any]],
    columns: ColumnTypes,
    *,
    task: str,
    target: str,
    summary: str,
    stacker: Any = None,
) -> str:
    """The text of a script that refits the members' configurations on a CSV and predicts with
    their weighted average (one member with weight 1 for a single pipeline), or with the fitted
    ``stacker`` (a LogisticRegression / LinearRegression over the members' outputs)."""
    helpers = [inspect.getsource(f) for f in _HELPERS]
    if columns.datetime:
        helpers.append(inspect.getsource(DatetimeFeatures))
    pipelines = [p if isinstance(p, Pipeline) else Pipeline([("model", p)]) for _, p in members]
    lists = "\n".join(
        f"{kind.upper()} = {list(getattr(columns, kind))!r}"
        for kind in ("numeric", "boolean", "categorical", "high_cardinality", "datetime")
    )
    entries = "\n".join(
        f"        ({weight!r}, {_code(pipeline, 8)}),"
        for (weight, _), pipeline in zip(members, pipelines)
    )
    classification = task == "classification"
    imports = _imports(pipelines, datetime=bool(columns.datetime), classification=classification)
    main = (
        _MAIN.replace("OUTPUT", "predict_proba" if classification else "predict")
        .replace(
            "COLUMNS",
            "[str(c) for c in labels.classes_]" if classification else "[TARGET]",
        )
        .replace("LABELS", "LabelEncoder()" if classification else "None")
    )
    header = textwrap.dedent(
        f'''\
        """{summary}

        Written by sweepml; needs only pandas and scikit-learn (and the boosting library of
        any LightGBM, XGBoost or CatBoost member).

            python this_script.py TRAIN.csv [NEW.csv [PREDICTIONS.csv]]

        fits the pipeline(s) on TRAIN.csv (its '{target}' column is the target) and, given
        NEW.csv, writes the predictions (the weighted average of the pipelines) to a CSV file.
        """

        from __future__ import annotations

        import sys

        import numpy as np
        import pandas as pd
        '''
    )
    return (
        header
        + "\n".join(imports)
        + f'\n\nTARGET = "{target}"\n'
        + lists
        + "\nFEATURES = NUMERIC + BOOLEAN + CATEGORICAL + HIGH_CARDINALITY + DATETIME\n"
        + f"MISSING = {preprocessing.MISSING!r}\n\n\n"
        + "\n\n".join(helpers)
        + "\n\ndef build_members():\n"
        + '    """(weight, pipeline) pairs; predictions are their weighted average."""\n'
        + "    return [\n"
        + entries
        + "\n    ]\n\n"
        + _combiner(stacker, task)
        + "\n\n"
        + main
    )
