"""JSON records reach compiled members without pandas, and give what the model predicts; any
value the plain path does not take falls back to pandas' conversion and its errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from sweepml.serve.errors import RequestError
from sweepml.serve.protocol import Invocation
from sweepml.serve.schema import records_columns
from sweepml.serve.service import TabularService
from sweepml.tabular import AutoRegressor


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "size": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
            "rooms": rng.integers(1, 6, n),
            "city": rng.choice(["paris", "lyon", "nice", None], n),
            "garden": rng.random(n) < 0.5,
            "constant": 3,
        }
    )
    y = frame["size"].fillna(50) * 2 + frame["rooms"] * 5 + frame["garden"] * 10
    return AutoRegressor(max_trials=3, n_jobs=1, random_state=0).fit(frame, y)


PLAIN = [
    {"size": 40.5, "rooms": 3, "city": "lyon", "garden": True},
    {"size": None, "rooms": 2, "city": None, "garden": False},
    {"size": 71, "rooms": 9, "city": "atlantis", "garden": True, "constant": 3},
    {"size": -1e6, "rooms": 1, "city": 7, "garden": False},
]


def test_plain_records_skip_pandas_and_give_the_models_predictions(model):
    service = TabularService(model, "m.joblib")
    assert service.not_compiled == []
    assert records_columns(PLAIN, service.schema) is not None
    predictions = service.predict(Invocation(json.loads(json.dumps(PLAIN))))["predictions"]
    expected = model.predict(pd.DataFrame(PLAIN, dtype=object))
    assert predictions == expected.tolist()


@pytest.mark.parametrize(
    "odd",
    [{"size": "41"}, {"garden": None}, {"garden": "true"}, {"rooms": True}, {"city": [1]}],
)
def test_other_values_are_converted_by_pandas_as_before(model, odd):
    """Numbers as text and "true" convert; a boolean in a numeric column and a list are 400s."""
    service = TabularService(model, "m.joblib")
    rows = [{**PLAIN[0], **odd}]
    assert records_columns(rows, service.schema) is None
    plain = TabularService(model, "m.joblib", compiled=False)
    try:
        expected = plain.predict(Invocation(rows))
    except RequestError as error:
        with pytest.raises(RequestError, match=re.escape(error.message)):
            service.predict(Invocation(rows))
    else:
        assert service.predict(Invocation(rows)) == expected


def test_a_missing_column_is_the_same_400(model):
    service = TabularService(model, "m.joblib")
    rows = [{key: value for key, value in PLAIN[0].items() if key != "rooms"}]
    with pytest.raises(RequestError, match="lacks 'rooms'"):
        service.predict(Invocation(rows))


def test_numbers_among_text_in_a_categorical_column_are_categories(model):
    """A table's column mixing numbers and text (dataframe_split, instances) is read as text;
    a list in it is a 400 naming the column."""
    frame = pd.DataFrame({"size": [40.5, 3.0], "rooms": [3, 2], "city": [7, "lyon"],
                          "garden": [True, False]})  # fmt: skip
    service = TabularService(model, "m.joblib")
    answer = service.predict(Invocation(frame.copy()))["predictions"]
    assert answer == model.predict(frame.assign(constant=3)).tolist()
    frame["city"] = [[1], "lyon"]
    with pytest.raises(RequestError, match="'city' .* expects text, numbers or null; row 0"):
        service.predict(Invocation(frame))
