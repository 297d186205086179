"""Neural architecture search on the core: architecture spaces are ordinary spaces, a builder
turns a config into a PyTorch module, a trainer evaluates it with epochs as the budget, the
controllers are ordinary strategies, and ``ImageClassifier`` wraps it all like Auto-Keras.

``sweepml.nas.spaces``, ``sweepml.nas.pnas`` and ``sweepml.nas.data`` need nothing beyond the
core; the builder, trainer, ``Reinforce`` and ``ImageClassifier`` need PyTorch
(``pip install 'sweepml[nas]'``), imported on first use.
"""

from typing import Any

from sweepml.nas.spaces import chain_space, mlp_space, nasnet_space, pnas_space

__all__ = [
    "DARTS",
    "ENAS",
    "PNAS",
    "SharedWeights",
    "darts_search",
    "ImageClassifier",
    "Reinforce",
    "chain_space",
    "mlp_space",
    "nasnet_space",
    "pnas_space",
]

_LAZY = {
    "ImageClassifier": "sweepml.nas.image",
    "Reinforce": "sweepml.nas.controller",
    "PNAS": "sweepml.nas.pnas",
    "ENAS": "sweepml.nas.enas",
    "DARTS": "sweepml.nas.darts",
    "darts_search": "sweepml.nas.darts",
    "SharedWeights": "sweepml.nas.shared",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            raise ModuleNotFoundError(
                f"sweepml.nas.{name} needs PyTorch, which is not installed: "
                f"pip install 'sweepml[nas]' (on a machine without a GPU, "
                f"pip install torch --index-url https://download.pytorch.org/whl/cpu first "
                f"installs the much smaller CPU build).",
                name="torch",
            ) from None
        return getattr(module, name)
    raise AttributeError(f"module 'sweepml.nas' has no attribute {name!r}")
