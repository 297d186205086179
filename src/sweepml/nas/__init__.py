"""Neural architecture search on the core: architecture spaces are ordinary spaces, a builder
turns a config into a PyTorch module, a trainer evaluates it with epochs as the budget.

``sweepml.nas.spaces`` needs nothing beyond the core; ``sweepml.nas.build`` and
``sweepml.nas.train`` need PyTorch (``pip install 'sweepml[nas]'``).
"""

from sweepml.nas.spaces import chain_space, mlp_space, nasnet_space

__all__ = ["chain_space", "mlp_space", "nasnet_space"]
