import re

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

import sweepml
from sweepml.exceptions import InvalidParameterError, SweepmlError

X, Y = load_iris(return_X_y=True)


def knn(x_train, y_train, x_val, y_val, params):
    model = KNeighborsClassifier(**params).fit(x_train, y_train)
    return {"val_acc": [model.score(x_val, y_val)], "acc": [model.score(x_train, y_train)]}, model


def test_grid_scan_with_a_scikit_learn_model():
    params = {"n_neighbors": [1, 3, 5, 9, 15, 25, 40, 60], "weights": ["uniform", "distance"]}
    result = sweepml.scan(knn, X, Y, params=params, metric="val_acc", seed=0,
                          show_progress=False)  # fmt: skip
    assert len(result.data) == 16
    assert {"score", "val_acc", "acc", "n_neighbors", "weights", "status"} <= set(result.data)
    assert result.best_value == result.data["score"].max()
    assert result.best_model.score(X, Y) > 0.9
    assert result.best_model.get_params()["n_neighbors"] == result.best_params["n_neighbors"]


def test_fraction_downsamples_the_grid_reproducibly():
    params = {"n_neighbors": [1, 3, 5, 9, 15, 25, 40, 60], "weights": ["uniform", "distance"]}
    runs = [
        sweepml.scan(
            knn, X, Y, params=params, metric="val_acc", fraction=0.5, seed=4, show_progress=False
        ).data  # fmt: skip
        for _ in range(2)
    ]
    assert len(runs[0]) == 8
    assert runs[0]["n_neighbors"].tolist() == runs[1]["n_neighbors"].tolist()


def test_a_bare_score_named_accuracy_is_maximized_and_explicit_validation_data_is_used():
    seen = []

    def logistic(x_train, y_train, x_val, y_val, params):
        seen.append(len(x_val))
        return (
            LogisticRegression(C=params["C"], max_iter=500)
            .fit(x_train, y_train)
            .score(x_val, y_val)
        )

    result = sweepml.scan(logistic, X[::2], Y[::2], x_val=X[1::2], y_val=Y[1::2],
                          params={"C": (0.01, 1.0, 4)}, metric="val_accuracy", seed=0,
                          show_progress=False)  # fmt: skip
    assert set(seen) == {75} and len(result.data) == 4 and result.best_value > 0.8
    assert result.best_model is None and result.study.direction == "maximize"


def test_torch_model_and_resume_rebuilds_the_best_model(tmp_path):
    torch = pytest.importorskip("torch")

    def mlp(x_train, y_train, x_val, y_val, params):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, params["units"]), torch.nn.ReLU(),
                                  torch.nn.Linear(params["units"], 3))  # fmt: skip
        optimizer = torch.optim.Adam(net.parameters(), lr=params["lr"])
        history = {"loss": [], "val_loss": []}
        for _ in range(params["epochs"]):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x_train), y_train)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                val = torch.nn.functional.cross_entropy(net(x_val), y_val)
            history["loss"].append(loss.item())
            history["val_loss"].append(val.item())
        return history, net

    x = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(Y)
    params = {"units": [4, 16], "lr": [0.001, 0.05], "epochs": [15]}
    db = tmp_path / "scan.db"
    first = sweepml.scan(mlp, x, y, params=params, seed=0, storage=db, fraction=0.5,
                         show_progress=False)  # fmt: skip
    assert first.study.direction == "minimize" and len(first.data) == 2
    assert first.data["epochs"].tolist() == [15, 15]
    assert len(first.study.trials[0].intermediate) == 15  # the val_loss curve, per epoch
    again = sweepml.scan(mlp, x, y, params=params, seed=0, storage=db, show_progress=False)
    assert len(again.data) == 4  # the rest of the grid ran; nothing ran twice
    assert isinstance(again.best_model, torch.nn.Module)


def test_scan_in_worker_processes_rebuilds_the_best_model_once():
    result = sweepml.scan(knn, X, Y, params={"n_neighbors": [1, 5, 15, 30]}, metric="val_acc",
                          n_workers=2, seed=0, show_progress=False)  # fmt: skip
    assert result.best_model.get_params()["n_neighbors"] == result.best_params["n_neighbors"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": {"k": []}}, "'params' entry 'k' of scan is an empty list"),
        ({"params": {}}, "'params' parameter of scan must be a non-empty dict"),
        ({"params": {"k": [1]}, "y": Y[:-1]}, "same length; got 150 rows of x and 149 of y"),
        ({"params": {"k": [1]}, "fraction": 0}, "'fraction' parameter of scan"),
        ({"params": {"k": [1]}, "metric": "val_thing"}, "cannot tell whether metric"),
        ({"params": {"k": sweepml.Float(0, 1)}}, "scan needs n_trials or time_budget"),
        ({"params": {"k": [1]}, "x_val": X}, "both x_val and y_val"),
    ],
)
def test_bad_scan_arguments(kwargs, match):
    arguments = {"x": X, "y": Y, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        sweepml.scan(knn, arguments.pop("x"), arguments.pop("y"), **arguments)


@pytest.mark.parametrize(
    ("returned", "match"),
    [
        (None, "must return \\(history, model\\) or a score; it returned None"),
        ((1, 2, 3), "it returned a tuple of 3 items"),
        (("text", None), "must map metric names to per-epoch values"),
        (({"loss": [1.0]}, None), "no values for metric 'val_loss'; its metrics are \\['loss'\\]"),
    ],
)
def test_a_model_fn_that_returns_the_wrong_shape_is_named(returned, match):
    def broken(x_train, y_train, x_val, y_val, params):
        return returned

    with pytest.raises(SweepmlError, match="No trial of the scan succeeded") as error:
        sweepml.scan(broken, X, Y, params={"k": [1, 2]}, seed=0, show_progress=False)
    assert re.search(match, str(error.value))
