"""export(path, format="mlflow"): a pyfunc model MLflow loads and predicts with, as the model."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

import sweepml
from sweepml.tabular import AutoClassifier, AutoRegressor

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402


def table(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "city": rng.choice(["paris", "lyon", None], n),
            "member": rng.choice([True, False], n),
            "joined": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "constant": 1,
        }
    )
    frame.loc[::7, "age"] = np.nan
    label = np.where((frame["age"].fillna(40) > 45) ^ (frame["city"] == "lyon"), "yes", "no")
    return frame, label


@pytest.fixture(scope="module")
def classifier():
    frame, label = table(240)
    return AutoClassifier(max_trials=3, n_jobs=1, random_state=0).fit(frame, label)


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    return classifier.export(tmp_path_factory.mktemp("m") / "model", format="mlflow")


def test_the_pyfunc_predicts_what_the_model_predicts(classifier, exported):
    loaded = mlflow.pyfunc.load_model(str(exported))
    rows, _ = table(30, seed=1)
    rows.loc[0, "city"] = "rome"  # unseen at fit time: encoded as at fit time
    sent = rows.drop(columns="constant")  # dropped at fit time: may be left out
    assert loaded.predict(sent).tolist() == classifier.predict(rows).tolist()
    proba = loaded.predict(sent, params={"proba": True})
    assert list(proba.columns) == ["no", "yes"]
    np.testing.assert_array_equal(proba.to_numpy(), classifier.predict_proba(rows))


def test_signature_example_and_requirements_come_from_the_fit(exported):
    loaded = mlflow.pyfunc.load_model(str(exported))
    inputs = {spec.name: spec for spec in loaded.metadata.get_input_schema().inputs}
    assert {name: spec.type.name for name, spec in inputs.items()} == {
        "age": "double", "city": "string", "member": "boolean", "joined": "datetime",
        "constant": "long",
    }  # fmt: skip
    assert not inputs["constant"].required and inputs["age"].required
    assert [p.name for p in loaded.metadata.get_params_schema().params] == ["proba"]
    example = json.loads((exported / "input_example.json").read_text())
    assert example["columns"] == ["age", "city", "member", "joined"]  # one typical row
    assert example["data"][0][1] in ("paris", "lyon")
    assert loaded.predict(loaded.metadata.load_input_example(str(exported))).shape == (1,)
    requirements = (exported / "requirements.txt").read_text()
    assert f"sweepml=={sweepml.__version__}" in requirements and "scikit-learn==" in requirements


def test_bad_rows_name_the_column_and_a_regressor_refuses_probabilities(exported, tmp_path):
    loaded = mlflow.pyfunc.load_model(str(exported))
    rows, _ = table(3, seed=2)
    with pytest.raises(MlflowException, match="age"):
        loaded.predict(rows.assign(age=["old", "young", "new"]))
    frame, _ = table(80)
    regressor = AutoRegressor(max_trials=2, n_jobs=1, random_state=0).fit(
        frame, frame["age"].fillna(0)
    )
    path = regressor.export(tmp_path / "regressor", format="mlflow")
    values = mlflow.pyfunc.load_model(str(path)).predict(rows)
    np.testing.assert_allclose(values, regressor.predict(rows))
    with pytest.raises(MlflowException, match="proba=true needs a classifier"):
        mlflow.pyfunc.load_model(str(path)).predict(rows, params={"proba": True})


def test_export_refuses_an_unknown_format_and_a_folder_in_use(classifier, exported, tmp_path):
    with pytest.raises(
        sweepml.InvalidParameterError, match="'format' parameter.*'script' or 'mlflow'"
    ):
        classifier.export(tmp_path / "x", format="onnx")
    with pytest.raises(sweepml.InvalidParameterError, match="exists and is not an empty folder"):
        classifier.export(exported, format="mlflow")


def test_without_mlflow_the_error_says_what_to_install(classifier, tmp_path, monkeypatch):
    for name in [
        m
        for m in sys.modules
        if m == "mlflow" or m.startswith(("mlflow.", "sweepml.integrations."))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    with pytest.raises(sweepml.SweepmlError, match=r"pip install 'sweepml\[mlflow\]'"):
        classifier.export(tmp_path / "m", format="mlflow")
    with pytest.raises(sweepml.SweepmlError, match=r"MLflowCallback needs MLflow"):
        from sweepml.integrations import MLflowCallback  # noqa: F401


@pytest.mark.parametrize("pixels", ["float", "8-bit"])
def test_an_image_classifier_exports_a_pyfunc_of_its_images(tmp_path, pixels):
    pytest.importorskip("torch")
    from sweepml.nas import ImageClassifier
    from sweepml.nas import data as nas_data

    digits = nas_data.load_digits()
    train, images = digits.x_train[:200], digits.x_test[:16].astype(np.float32)
    if pixels == "8-bit":  # the signature then takes uint8, scaled by the model as at fit
        train, images = (train * 255).astype(np.uint8), (images * 255).astype(np.uint8)
    model = ImageClassifier(max_trials=1, epochs=1, final_epochs=1, filters=4, batch_size=32,
                            seed=0).fit(train, digits.y_train[:200])  # fmt: skip
    assert model.pixels_ == pixels
    path = model.export(tmp_path / "images", format="mlflow")
    loaded = mlflow.pyfunc.load_model(str(path))
    assert loaded.predict(images).tolist() == model.predict(images).tolist()
    proba = loaded.predict(images, params={"proba": True})
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(images), rtol=1e-6)
    spec = loaded.metadata.get_input_schema().inputs[0]
    assert tuple(spec.shape) == (-1, 8, 8)
    assert spec.type == np.dtype(np.uint8 if pixels == "8-bit" else np.float32)
