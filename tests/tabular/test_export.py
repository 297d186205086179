"""Exported scripts rebuild each optional boosting family without sweepml."""

import numpy as np
import pandas as pd
import pytest

from sweepml.tabular.components import MODELS, OPTIONAL
from sweepml.tabular.data import infer_column_types
from sweepml.tabular.export import pipeline_script
from sweepml.tabular.pipeline_space import build_pipeline, pipeline_space


@pytest.mark.parametrize("family", sorted(OPTIONAL))
def test_an_optional_family_exports_and_reproduces(tmp_path, family, run_exported):
    if family not in MODELS:
        pytest.skip(f"{OPTIONAL[family]} is not installed")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.choice(["x", "y", "z"], 200)})
    labels = np.where(frame["a"] + (frame["b"] == "x") > 0.3, "high", "low")
    types = infer_column_types(frame)
    space = pipeline_space("classification", n_rows=200, n_features=2, models=[family])
    config = space.default()
    if family == "xgboost":
        config = {**config, "xgb.booster": "dart", "xgb.sample_type": "weighted",
                  "xgb.normalize_type": "forest", "xgb.rate_drop": 0.1}  # fmt: skip
        space.validate(config)  # the DART parameters are active under booster=dart
    pipeline = build_pipeline(config, types, "classification", seed=0)
    pipeline.fit(frame, (labels == "low").astype(int))  # LabelEncoder order: high=0, low=1
    script = tmp_path / "pipeline.py"
    script.write_text(
        pipeline_script(
            [(1.0, pipeline)], types, task="classification", target="label", summary="test"
        )
    )
    frame.assign(label=labels).to_csv(tmp_path / "train.csv", index=False)
    exported = run_exported(script)
    assert list(exported.columns) == ["high", "low"]
    np.testing.assert_allclose(exported.to_numpy(), pipeline.predict_proba(frame), atol=1e-6)
