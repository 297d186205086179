"""Pipeline components: model families (one module per family) and preprocessing.

XGBoost and CatBoost are optional extras: their families join the space only when the library is
installed (checked without importing it, so ``import sweepml`` stays light).
"""

from importlib.util import find_spec

from sweepml.tabular.components.base import (
    CLASSIFICATION,
    REGRESSION,
    ModelComponent,
    set_threads,
)
from sweepml.tabular.components.boosting import HIST_GRADIENT_BOOSTING, LIGHTGBM
from sweepml.tabular.components.catboost_trees import CATBOOST
from sweepml.tabular.components.linear import LINEAR, SGD
from sweepml.tabular.components.neighbors import KNN, SVM
from sweepml.tabular.components.neural import MLP
from sweepml.tabular.components.trees import EXTRA_TREES, RANDOM_FOREST
from sweepml.tabular.components.xgboost_trees import XGBOOST

#: optional families and the module each needs
OPTIONAL = {XGBOOST.name: "xgboost", CATBOOST.name: "catboost"}

#: every model family, in the order a new search tries their defaults (strong and cheap first)
MODELS: dict[str, ModelComponent] = {
    m.name: m
    for m in (
        LIGHTGBM,
        RANDOM_FOREST,
        EXTRA_TREES,
        HIST_GRADIENT_BOOSTING,
        XGBOOST,
        CATBOOST,
        LINEAR,
        KNN,
        SVM,
        MLP,
        SGD,
    )
    if m.name not in OPTIONAL or find_spec(OPTIONAL[m.name]) is not None
}

__all__ = [
    "CLASSIFICATION",
    "MODELS",
    "OPTIONAL",
    "REGRESSION",
    "ModelComponent",
    "set_threads",
]
