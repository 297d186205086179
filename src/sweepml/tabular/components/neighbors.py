"""Non-parametric and kernel models: k-nearest neighbours and support vector machines."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR

from sweepml.space import Choice, Float, Int, Param
from sweepml.tabular.components.base import CLASSIFICATION, Config, ModelComponent


def _knn_params(task: str) -> dict[str, Param]:
    return {
        "knn.n_neighbors": Int(1, 100, log=True, default=10),
        "knn.weights": Choice(["uniform", "distance"]),
        "knn.p": Choice([2, 1]),
    }


def _build_knn(config: Config, task: str, seed: int) -> object:
    cls = KNeighborsClassifier if task == CLASSIFICATION else KNeighborsRegressor
    return cls(
        n_neighbors=config["knn.n_neighbors"], weights=config["knn.weights"], p=config["knn.p"]
    )


def _svm_params(task: str) -> dict[str, Param]:
    params: dict[str, Param] = {
        "svm.C": Float(2**-5, 2**15, log=True, default=1.0),
        "svm.gamma": Float(2**-15, 2**3, log=True, default=0.1),
        "svm.shrinking": Choice([True, False]),
    }
    if task != CLASSIFICATION:
        params["svm.epsilon"] = Float(1e-3, 1.0, log=True, default=0.1)
    return params


def _build_svm(config: Config, task: str, seed: int) -> object:
    common = {
        "C": config["svm.C"],
        "gamma": config["svm.gamma"],
        "shrinking": config["svm.shrinking"],
        "max_iter": 100_000,  # an unscaled, huge-C fit can otherwise run for hours
    }
    if task == CLASSIFICATION:  # Platt scaling on internal folds gives the probabilities
        return CalibratedClassifierCV(SVC(random_state=seed, **common), ensemble=False)
    return SVR(epsilon=config["svm.epsilon"], **common)


KNN = ModelComponent("knn", _knn_params, _build_knn, max_rows=50_000)
SVM = ModelComponent("svm", _svm_params, _build_svm, max_rows=10_000, fit_scaling=2.0)
