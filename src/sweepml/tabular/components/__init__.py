"""Pipeline components: model families (one module per family) and preprocessing."""

from sweepml.tabular.components.base import CLASSIFICATION, REGRESSION, ModelComponent
from sweepml.tabular.components.boosting import HIST_GRADIENT_BOOSTING, LIGHTGBM
from sweepml.tabular.components.linear import LINEAR, SGD
from sweepml.tabular.components.neighbors import KNN, SVM
from sweepml.tabular.components.neural import MLP
from sweepml.tabular.components.trees import EXTRA_TREES, RANDOM_FOREST

#: every model family, in the order a new search tries their defaults (strong and cheap first)
MODELS: dict[str, ModelComponent] = {
    m.name: m
    for m in (
        LIGHTGBM,
        RANDOM_FOREST,
        EXTRA_TREES,
        HIST_GRADIENT_BOOSTING,
        LINEAR,
        KNN,
        SVM,
        MLP,
        SGD,
    )
}

__all__ = ["CLASSIFICATION", "MODELS", "REGRESSION", "ModelComponent"]
