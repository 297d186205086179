import json
import math

import numpy as np
import pytest

from sweepml import Choice, Const, Float, Int, Space
from sweepml.exceptions import InvalidConfigError, InvalidParameterError, SpaceSpecError
from sweepml.testing.conformance import conditional_space


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Float(2, 1), r"'low' parameter of Float must be <= high \(1\); got 2"),
        (lambda: Float(0, 1, log=True), r"must be > 0 when log=True; got 0"),
        (lambda: Int(-1, 5, log=True), r"must be > 0 when log=True; got -1"),
        (lambda: Int(1.5, 3), r"'low' parameter of Int must be an int; got 1.5"),
        (lambda: Float(0, math.inf), r"'high' parameter of Float must be a finite number"),
        (lambda: Choice([]), r"'options' parameter of Choice must be a non-empty list"),
        (lambda: Choice("abc"), r"'options' parameter of Choice must be a non-empty list"),
        (lambda: Choice([1, 1]), r"distinct values; got 1"),
        (lambda: Choice([object()]), r"JSON-serializable"),
        (lambda: Float(0, 1, default=2), r"'default' parameter of Float must be a float in"),
        (lambda: Space({"x": 3}), r"'x' entry of Space must be a Float, Int, Choice or Const"),
    ],
)
def test_bad_parameters_name_the_problem(make, message):
    with pytest.raises(InvalidParameterError, match=message):
        make()


def test_conditional_space_activates_only_the_chosen_branch():
    space = conditional_space()
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        config = space.sample(rng)
        space.validate(config)
        json.dumps(config)
        seen.add(config["model"])
        assert ("depth" in config) == (config["model"] == "tree")
        assert ("slope" in config) == (config.get("act") == "leaky")
    assert seen == {"linear", "tree", "net"}


def test_sampling_is_reproducible_and_respects_bounds():
    space = Space({"lr": Float(1e-5, 1e-1, log=True), "n": Int(16, 512, log=True)})
    a = [space.sample(np.random.default_rng(3)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(3)) for _ in range(3)]
    assert a == b
    draws = [space.sample(np.random.default_rng(i)) for i in range(300)]
    assert all(1e-5 <= d["lr"] <= 1e-1 and 16 <= d["n"] <= 512 for d in draws)
    assert np.median([d["lr"] for d in draws]) < 1e-2  # log-uniform, not uniform


def test_default_uses_first_option_and_midpoints():
    space = Space(
        {"m": Choice({"a": {"k": Int(1, 9)}, "b": None}), "x": Float(0, 4), "c": Const(7)}
    )
    assert space.default() == {"m": "a", "k": 5, "x": 2.0, "c": 7}


def test_validate_names_parameter_value_and_allowed():
    space = conditional_space()
    good = {"x": 0.0, "lr": 0.01, "model": "tree", "depth": 3, "split": "gini", "tag": "v1"}
    space.validate(good)
    with pytest.raises(InvalidConfigError, match=r"'depth' must be an int in \[1, 8\]; got 9"):
        space.validate({**good, "depth": 9})
    missing = r"'split' \(one of \['gini', 'entropy'\]\) is missing"
    with pytest.raises(InvalidConfigError, match=missing):
        space.validate({k: v for k, v in good.items() if k != "split"})
    with pytest.raises(InvalidConfigError, match=r"unexpected parameter\(s\) \['units'\]"):
        space.validate({**good, "units": 10})
    with pytest.raises(InvalidConfigError, match="must be one of"):
        space.validate({**good, "model": "svm"})
    with pytest.raises(InvalidConfigError, match="must be a dict"):
        space.validate([1, 2])


def test_names_must_be_unique_unless_shared_by_sibling_options():
    with pytest.raises(InvalidParameterError, match="'k' is used twice"):
        Space({"k": Int(1, 3), "m": Choice({"a": {"k": Int(1, 3)}})})
    with pytest.raises(InvalidParameterError, match="defined differently"):
        Space({"m": Choice({"a": {"k": Int(1, 3)}, "b": {"k": Int(1, 4)}})})
    shared = Space({"m": Choice({"a": {"k": Int(1, 3)}, "b": {"k": Int(1, 3)}})})
    assert shared.dimension == 3  # one-hot of m + one shared slot for k


def test_grid_enumerates_conditional_spaces_and_size_counts_them():
    space = Space({"m": Choice({"a": {"k": Int(1, 3)}, "b": None}), "flag": Choice([True, False])})
    grid = list(space.grid())
    assert len(grid) == space.grid_size() == space.size == 8
    assert {"m": "b", "flag": True} in grid and {"m": "a", "k": 2, "flag": False} in grid
    assert Space({"x": Float(0, 1)}).size == math.inf
    assert Space({"x": Float(0, 1)}).grid_size(4) == 4
    assert [c["x"] for c in Space({"x": Float(1, 100, log=True)}).grid(3)] == pytest.approx(
        [1, 10, 100]
    )


def test_encode_decode_round_trip():
    space = conditional_space()
    rng = np.random.default_rng(5)
    for _ in range(50):
        config = space.sample(rng)
        vector = space.encode(config)
        assert vector.shape == (space.dimension,) and vector.min() >= 0 and vector.max() <= 1
        decoded = space.decode(vector)
        assert decoded.keys() == config.keys()
        for key, value in config.items():
            if isinstance(value, float):
                assert decoded[key] == pytest.approx(value)
            else:
                assert decoded[key] == value
    assert len(space.encoded_names) == space.dimension
    with pytest.raises(InvalidParameterError, match="must have shape"):
        space.decode([0.5])


def test_int_encoding_gives_every_value_its_share():
    param = Int(1, 4)
    counts = np.bincount([param.from_unit(u) for u in np.linspace(0, 1, 4001)], minlength=5)
    assert counts[1:].min() > 900


def test_serialization_round_trip():
    space = conditional_space()
    assert Space.from_json_dict(json.loads(space.to_json())) == space


def test_from_dict_talos_style():
    space = Space.from_dict(
        {
            "lr": (0.001, 0.1, 3),
            "units": (16, 64, 4),
            "act": ["relu", "elu"],
            "epochs": 10,
            "drop": Float(0, 0.5),
        }
    )
    assert space["lr"].options == (0.001, 0.0505, 0.1)
    assert space["units"].options == (16, 32, 48, 64)
    assert space["epochs"] == Const(10)
    assert space.grid_size() == 3 * 4 * 2 * 5
    with pytest.raises(SpaceSpecError, match=r"\(start, stop, n\)"):
        Space.from_dict({"lr": (0.1, 1)})
    with pytest.raises(SpaceSpecError, match="conditional choice"):
        Space.from_dict({"m": {"a": 1}})


CANDLE_YAML = """
parameters:
  - {name: batch_size, type: discrete, values: [16, 32, 64]}
  - {name: epochs, type: integer, lower: 5, upper: 500}
  - {name: learning_rate, type: numeric, lower: 0.00001, upper: 0.1, log: true}
  - {name: dense, type: discrete, values: [[500, 100, 50], [1000, 500], [100]]}
  - {name: optimizer, type: discrete, values: [sgd, adam, rmsprop]}
  - {name: momentum, type: numeric, lower: 0.0, upper: 0.99, condition: {optimizer: [sgd, rmsprop]}}
  - {name: nesterov, type: discrete, values: [true, false], condition: {optimizer: sgd}}
"""


def test_from_file_candle_yaml_with_conditions(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(CANDLE_YAML)
    space = Space.from_file(path)
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(100)]
    for config in configs:
        space.validate(config)
        assert ("momentum" in config) == (config["optimizer"] in ("sgd", "rmsprop"))
        assert ("nesterov" in config) == (config["optimizer"] == "sgd")
    assert any(c["dense"] == [1000, 500] for c in configs)


def test_from_file_json(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps([{"name": "x", "type": "numeric", "lower": 0, "upper": 1}]))
    assert Space.from_file(path) == Space({"x": Float(0, 1)})


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "- {name: x, type: float, lower: 0, upper: 1}",
            r"'x' has type 'float'; allowed types are \['discrete', 'integer', 'numeric'\]",
        ),
        (
            "- {name: x, type: numeric, lower: 0, upper: 1, condition: {opt: sgd}}",
            r"condition of 'x' names parameter 'opt', which is not defined",
        ),
        (
            "- {name: opt, type: discrete, values: [a]}\n"
            "- {name: x, type: numeric, lower: 0, upper: 1, condition: {opt: b}}",
            r"needs 'opt' == 'b'",
        ),
        ("- {name: x, type: numeric, lower: 1, upper: 0}", r"must be <= high"),
        ("- {name: x, type: integer, lower: 1}", r"needs \['upper'\]"),
        ("- {name: x, type: discrete, values: []}", r"non-empty list"),
        ("- {name: x, type: discrete, values: [1], colour: red}", r"unknown keys \['colour'\]"),
        ("[1, 2", "not valid YAML"),
        ("{}", "non-empty list of parameter entries"),
    ],
)
def test_bad_spec_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpaceSpecError, match=message):
        Space.from_file(path)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpaceSpecError, match="does not exist"):
        Space.from_file(tmp_path / "nope.yaml")
