"""``as_strings``: what the categorical encoders see, at fit time and in every prediction."""

import numpy as np
import pandas as pd

from sweepml.tabular.components.preprocessing import MISSING, as_strings


def test_every_dtype_becomes_its_str_and_every_missing_value_one_category():
    frame = pd.DataFrame(
        {
            "text": ["x", None, "y", np.nan],
            "integers": [1, 2, 3, 4],
            "floats": [1.5, np.nan, 2.0, 3.0],
            "category": pd.Categorical(["p", "q", None, "p"]),
            "mixed": [True, False, None, 7],
            "nullable_text": pd.array(["s", pd.NA, "t", "u"], dtype="string"),
            "nullable_int": pd.array([1, pd.NA, 3, 4], dtype="Int64"),
        }
    )
    expected = np.array(
        [
            ["x", "1", "1.5", "p", "True", "s", "1"],
            [MISSING, "2", MISSING, "q", "False", MISSING, MISSING],
            ["y", "3", "2.0", MISSING, MISSING, "t", "3"],
            [MISSING, "4", "3.0", "p", "7", "u", "4"],
        ],
        dtype=object,
    )
    strings = as_strings(frame)
    assert strings.dtype == object and strings.shape == (4, 7)
    assert (strings == expected).all()
    assert (as_strings(frame.to_numpy(dtype=object)) == expected).all()  # arrays as frames
    assert (as_strings(frame.iloc[2:3]) == expected[2:3]).all()  # one row, as a request has


def test_a_single_column_as_a_series_or_a_list_is_one_column():
    assert as_strings(pd.Series(["a", None, "b"])).tolist() == [["a"], [MISSING], ["b"]]
    assert as_strings(["a"]).tolist() == [["a"]]
