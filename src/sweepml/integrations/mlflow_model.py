"""sweepml models as MLflow pyfunc models: ``export(path, format="mlflow")``.

The folder ``mlflow.pyfunc.load_model`` loads, ``mlflow models serve`` serves and a model
registry takes: an ``MLmodel`` file, the fitted model as an artifact (the joblib file of a tabular
estimator; an ``ImageClassifier``'s weights and architecture), the signature, an input example,
and the requirements. The signature comes from what the fit recorded, not from guessing on
example rows: a tabular model's columns with their kinds (numbers as doubles, categories as
strings, booleans, datetimes; a column the fit dropped is optional), an image model's tensor
shape; the parameter ``proba`` (false) asks for class probabilities instead of labels. The input
example is one row of each column's typical value at fit time, never a row of the training data.

Prediction converts the rows as ``sweepml serve`` does (``sweepml.serve.schema``), so the two
answer the same rows alike. The model is MLflow's "model from code" (``mlflow_entry_*.py``, copied
into the folder, builds it), not a pickled object; the environment that loads it needs sweepml
(the requirements name the versions it was exported with).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

from sweepml.exceptions import InvalidParameterError
from sweepml.serve.errors import RequestError
from sweepml.serve.schema import Column, conform, schema_of
from sweepml.serve.service import versions

__all__ = ["ImagePyfunc", "TabularPyfunc", "save_image_model", "save_tabular_model"]

ENTRIES = Path(__file__).parent  # mlflow_entry_*.py: the files MLflow runs to build the models

_PROBA = ParamSchema([ParamSpec("proba", "boolean", False)])


class TabularPyfunc(PythonModel):  # type: ignore[misc]
    """A fitted ``AutoClassifier`` / ``AutoRegressor`` as an MLflow pyfunc."""

    def load_context(self, context: Any) -> None:
        from sweepml.tabular import load_model

        self.model = load_model(context.artifacts["model"])
        self.schema = schema_of(self.model)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        """Labels or values; with ``params={"proba": True}`` a DataFrame of class
        probabilities, one column per class."""
        proba = bool((params or {}).get("proba"))
        try:
            return _tabular_predictions(self.model, self.schema, model_input, proba)
        except RequestError as exc:
            raise MlflowException(exc.message, error_code=INVALID_PARAMETER_VALUE) from None


class ImagePyfunc(PythonModel):  # type: ignore[misc]
    """A fitted ``ImageClassifier`` as an MLflow pyfunc: images in (channels last), labels or
    class probabilities out."""

    def load_context(self, context: Any) -> None:
        from sweepml.nas import ImageClassifier

        self.model = ImageClassifier.load(context.artifacts["model"])

    def predict(
        self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None
    ) -> Any:
        """Labels; with ``params={"proba": True}`` a DataFrame of class probabilities."""
        proba = bool((params or {}).get("proba"))
        try:
            return _image_predictions(self.model, model_input, proba)
        except (RequestError, InvalidParameterError) as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None


def _tabular_predictions(model: Any, schema: tuple[Column, ...], rows: Any, proba: bool) -> Any:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    conformed = conform(frame.copy(), schema)  # as sweepml serve converts a request
    if not proba:
        return np.asarray(model.predict(conformed))
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise RequestError(400, "proba=true needs a classifier; this model is a regressor.")
    return pd.DataFrame(model.predict_proba(conformed), columns=[str(c) for c in classes])


def _image_predictions(classifier: Any, images: Any, proba: bool) -> Any:
    if isinstance(images, pd.DataFrame):
        images = images.to_numpy()
    if not proba:
        return np.asarray(classifier.predict(images))
    columns = [str(c) for c in classifier.classes_]
    return pd.DataFrame(classifier.predict_proba(images), columns=columns)


def save_tabular_model(model: Any, path: str | Path) -> Path:
    """Write a fitted tabular estimator to ``path`` (a new folder) as an MLflow pyfunc model."""
    schema = schema_of(model)
    target = _new_folder(path)
    with tempfile.TemporaryDirectory() as scratch:
        artifact = model.save(Path(scratch) / "model.joblib")
        mlflow.pyfunc.save_model(
            str(target),
            python_model=str(ENTRIES / "mlflow_entry_tabular.py"),
            artifacts={"model": str(artifact)},
            signature=ModelSignature(inputs=_tabular_inputs(schema), params=_PROBA),
            input_example=_example_row(schema),
            pip_requirements=_requirements(),
        )
    return target


def save_image_model(classifier: Any, path: str | Path) -> Path:
    """Write a fitted ``ImageClassifier`` to ``path`` (a new folder) as an MLflow pyfunc model.
    Images go in as the classifier takes them, channels last: N x H x W (one channel) or
    N x H x W x C, in the pixels it was fit on: uint8 for a classifier fit on 8-bit images (it
    scales them as at fit), float32 otherwise."""
    channels, height, width = classifier.input_shape_
    shape = (-1, height, width) if channels == 1 else (-1, height, width, channels)
    pixels = np.dtype(np.uint8 if getattr(classifier, "pixels_", None) == "8-bit" else np.float32)
    target = _new_folder(path)
    with tempfile.TemporaryDirectory() as scratch:
        classifier.save_weights(Path(scratch) / "model")
        mlflow.pyfunc.save_model(
            str(target),
            python_model=str(ENTRIES / "mlflow_entry_image.py"),
            artifacts={"model": str(Path(scratch) / "model")},
            signature=ModelSignature(inputs=Schema([TensorSpec(pixels, shape)]), params=_PROBA),
            input_example=np.zeros((1, *shape[1:]), dtype=pixels),
            pip_requirements=_requirements("torch"),
        )
    return target


def _new_folder(path: str | Path) -> Path:
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameterError(
            f"export(format='mlflow') writes a new folder; {str(target)!r} exists and is not an "
            f"empty folder."
        )
    if target.is_dir():
        target.rmdir()  # MLflow creates the folder itself
    return target


def _tabular_inputs(schema: tuple[Column, ...]) -> Schema:
    return Schema([ColSpec(_mlflow_type(c), c.name, required=c.kind != "ignored") for c in schema])


def _mlflow_type(column: Column) -> str:
    """The MLflow column type a request value of ``column`` arrives as."""
    if column.kind == "numeric":
        return "double"
    if column.kind == "boolean":
        return "boolean"
    if column.kind == "datetime":
        return "datetime"
    if column.dtype.startswith(("int", "uint", "Int", "UInt")):
        return "long"
    if column.dtype.startswith(("float", "Float")):
        return "double"
    if column.dtype in ("bool", "boolean"):
        return "boolean"
    return "string"


def _example_row(schema: tuple[Column, ...]) -> pd.DataFrame:
    """One row of each column's typical value at fit time (a dropped column is left out)."""
    values: dict[str, Any] = {}
    for column in schema:
        if column.kind == "ignored":
            continue
        value = column.example
        if column.kind == "datetime" and value is not None:
            value = pd.Timestamp(value)
        elif value is None:
            value = np.nan if _mlflow_type(column) == "double" else _FILLERS[_mlflow_type(column)]
        values[column.name] = [value]
    return pd.DataFrame(values)


# a column all missing at fit time has no typical value; these stand in, of the right type
_FILLERS: dict[str, Any] = {
    "string": "",
    "long": 0,
    "boolean": False,
    "datetime": pd.Timestamp("2000-01-01"),
}


def _requirements(*extra: str) -> list[str]:
    """The installed versions of what the model needs, pinned as it was exported."""
    return [f"{name}=={version}" for name, version in versions(*extra).items() if name != "python"]
