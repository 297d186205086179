"""Progressive neural architecture search (Liu et al. 2018) over a ``pnas_space`` cell.

Cells grow one block at a time. Level 1 trains up to ``beam`` one-block cells (all of them when
there are fewer). Level b + 1 expands every trained b-block cell by every possible next block,
ranks the expansions with an ensemble of MLP surrogates fitted to all results so far, and trains
the ``beam`` best. When the cells are full-sized (``blocks`` of the space), further levels rank
mutations of the best full cells and expansions of the best (B-1)-block cells the same way, so
a longer search keeps proposing.

A level is synchronous: its cells are asked, and the next level is planned only when all of
them are told (``ask`` returns None meanwhile). The plan of a level depends only on the results
of the earlier ones and the seed, so a study rebuilt by replaying its results continues the same
plan. A cell of b < B blocks is a config holding the first b blocks of the space (the builder
takes it as it is); the two (input, operation) pairs of a block are put in a fixed order, since
the sum does not care which comes first.

The surrogate encodes a cell as the mean over its blocks of one-hot inputs and operations (as
PNAS's MLP predictor does), so a model fitted on b-block cells can score (b+1)-block ones. The
MLPs are scikit-learn's; no PyTorch needed.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from sweepml._validation import check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Choice, Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy
from sweepml.strategies.evolution import mutate

__all__ = ["PNAS", "canonical_cell", "cell_blocks"]

_FIELDS = ("in1", "op1", "in2", "op2")


def cell_blocks(config: Mapping[str, Any]) -> int:
    """How many blocks a PNAS cell config holds."""
    return sum(1 for key in config if key.startswith("cell") and key.endswith("_op1"))


def canonical_cell(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with each block's two (input, operation) pairs in a fixed order."""
    out: dict[str, Any] = {}
    for k in range(cell_blocks(config)):
        pairs = sorted(
            [(config[f"cell{k}_in1"], config[f"cell{k}_op1"]),
             (config[f"cell{k}_in2"], config[f"cell{k}_op2"])],
            key=lambda pair: (int(pair[0]), str(pair[1])),
        )  # fmt: skip
        (in1, op1), (in2, op2) = pairs
        out.update({f"cell{k}_in1": in1, f"cell{k}_op1": op1,
                    f"cell{k}_in2": in2, f"cell{k}_op2": op2})  # fmt: skip
    return out


def _key(config: Mapping[str, Any]) -> tuple[Any, ...]:
    cell = canonical_cell(config)
    return tuple(cell[name] for name in sorted(cell))


@register_strategy("pnas")
class PNAS(Strategy):
    """Progressive search over cells of growing size, guided by an MLP-ensemble surrogate.

    Args:
        beam: cells trained per level (PNAS's K).
        ensemble: MLPs in the surrogate ensemble; each is fitted on a different 4/5 of the data.
        max_candidates: expansions scored per level; more are subsampled with the seed.

    Example:
        >>> PNAS(beam=16)
        PNAS(beam=16, ensemble=5, max_candidates=20000)
    """

    def __init__(self, *, beam: int = 32, ensemble: int = 5, max_candidates: int = 20000) -> None:
        super().__init__()
        self.beam = check_int("PNAS", "beam", beam, minimum=1)
        self.ensemble = check_int("PNAS", "ensemble", ensemble, minimum=1)
        self.max_candidates = check_int("PNAS", "max_candidates", max_candidates, minimum=1)

    def _setup(self, space: Space) -> None:
        params = space.all_params
        blocks = sum(1 for name in params if name.startswith("cell") and name.endswith("_op1"))
        expected = {f"cell{k}_{f}" for k in range(blocks) for f in _FIELDS}
        if not blocks or set(params) != expected:
            raise InvalidParameterError(
                f"The 'pnas' strategy searches PNAS cells (sweepml.nas.pnas_space(blocks)); this "
                f"space's parameters are {sorted(params)[:8]}{'...' if len(params) > 8 else ''}."
            )
        op_param = params["cell0_op1"]
        assert isinstance(op_param, Choice)
        self._blocks = blocks
        self._ops = list(op_param.values)
        # canonical cell -> (config, loss or None when it failed, level that trained it)
        self._results: dict[tuple[Any, ...], tuple[dict[str, Any], float | None, int]] = {}
        self._asked: set[tuple[Any, ...]] = set()
        self._level = 0  # levels 1..blocks grow the cell; later ones refine full cells
        self._plan: list[dict[str, Any]] = []

    # -- ask / tell -------------------------------------------------------------------------
    def _ask(self) -> Suggestion | None:
        while True:
            for config in self._plan:
                key = _key(config)
                if key not in self._asked and key not in self._results:
                    self._asked.add(key)
                    return self._suggest(config, info={"level": self._level})
            if any(_key(config) not in self._results for config in self._plan):
                return None  # the level's results are still out
            if not self._next_level():
                return None

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        key = _key(suggestion.config)
        self._asked.discard(key)
        loss = outcome.loss if outcome.ok else None
        level = int(suggestion.info.get("level", cell_blocks(suggestion.config)))
        previous = self._results.get(key)
        if previous is None or previous[1] is None:
            self._results[key] = (canonical_cell(suggestion.config), loss, level)

    def retry(self, suggestion: Suggestion) -> Suggestion:
        self._asked.add(_key(suggestion.config))
        return super().retry(suggestion)

    @property
    def finished(self) -> bool:
        return self._level > 0 and not self._plan

    # -- planning ---------------------------------------------------------------------------
    def _next_level(self) -> bool:
        """Plan the next level from the results; False when nothing new is left to propose."""
        self._level += 1
        level = self._level
        rng = np.random.default_rng([self.seed or 0, level])
        if level == 1:
            candidates = self._expansions([{}], rng)
            if len(candidates) <= self.beam:
                self._plan = candidates
            else:
                picks = rng.choice(len(candidates), size=self.beam, replace=False)
                self._plan = [candidates[int(i)] for i in picks]
        else:
            candidates = self._candidates(level, rng)
            self._plan = self._rank(candidates, rng)[: self.beam]
        # a rebuilt study has told some of the plan already; a fresh level has nothing told
        return bool(self._plan)

    def _earlier(self) -> list[tuple[dict[str, Any], float | None]]:
        """Results of the levels before the current one: all a level's plan may depend on."""
        return [(config, loss) for config, loss, level in self._results.values()
                if level < self._level]  # fmt: skip

    def _trained(self, blocks: int) -> list[tuple[dict[str, Any], float]]:
        found = [
            (config, loss)
            for config, loss in self._earlier()
            if loss is not None and cell_blocks(config) == blocks
        ]
        return sorted(found, key=lambda item: (item[1], _key(item[0])))

    def _candidates(self, level: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        if level <= self._blocks:
            parents = [config for config, _ in self._trained(level - 1)][: self.beam]
            pool = self._expansions(parents, rng)
        else:  # full cells: mutate the best, and expand the best (B-1)-block cells again
            best = [config for config, _ in self._trained(self._blocks)][: self.beam]
            pool = [mutate(self.space, config, rng) for config in best for _ in range(20)]
            parents = [config for config, _ in self._trained(self._blocks - 1)][: self.beam]
            pool += self._expansions(parents, rng)
        seen = {_key(config) for config, _ in self._earlier()}
        unseen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for config in pool:
            key = _key(config)
            if key not in seen:
                unseen.setdefault(key, canonical_cell(config))
        return [unseen[key] for key in sorted(unseen, key=str)]

    def _expansions(
        self, parents: list[dict[str, Any]], rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        """Every cell made by adding one block to one of ``parents``, without duplicates."""
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        for parent in parents:
            k = cell_blocks(parent)
            if k >= self._blocks:
                continue
            inputs = range(k + 2)
            for (in1, op1), (in2, op2) in itertools.combinations_with_replacement(
                itertools.product(inputs, self._ops), 2
            ):
                child = canonical_cell({**parent, f"cell{k}_in1": in1, f"cell{k}_op1": op1,
                                        f"cell{k}_in2": in2, f"cell{k}_op2": op2})  # fmt: skip
                out.setdefault(_key(child), child)
        found = [out[key] for key in sorted(out, key=str)]
        if len(found) > self.max_candidates:
            picks = np.sort(rng.choice(len(found), size=self.max_candidates, replace=False))
            found = [found[int(i)] for i in picks]
        return found

    # -- the surrogate ----------------------------------------------------------------------
    def _encode(self, config: Mapping[str, Any]) -> np.ndarray:
        n_inputs, n_ops = self._blocks + 1, len(self._ops)
        width = 2 * (n_inputs + n_ops)
        blocks = cell_blocks(config)
        rows = np.zeros((max(blocks, 1), width))
        for k in range(blocks):
            for slot, (field_in, field_op) in enumerate((("in1", "op1"), ("in2", "op2"))):
                base = slot * (n_inputs + n_ops)
                rows[k, base + int(config[f"cell{k}_{field_in}"])] = 1.0
                rows[k, base + n_inputs + self._ops.index(config[f"cell{k}_{field_op}"])] = 1.0
        return np.append(rows.mean(axis=0), blocks / self._blocks)

    def _rank(
        self, candidates: list[dict[str, Any]], rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        """``candidates`` best-first by the surrogate's mean predicted loss."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        told = sorted(
            ((config, loss) for config, loss in self._earlier() if loss is not None),
            key=lambda item: _key(item[0]),
        )
        if len(told) < 2 or not candidates:
            order = rng.permutation(len(candidates))
            return [candidates[int(i)] for i in order]
        x = np.array([self._encode(config) for config, _ in told])
        y = np.array([loss for _, loss in told])
        scale = float(y.std()) or 1.0
        y = (y - y.mean()) / scale
        grid = np.array([self._encode(config) for config in candidates])
        predictions = np.zeros(len(candidates))
        for _ in range(self.ensemble):
            rows = np.arange(len(x))
            if self.ensemble > 1:  # each member sees a different 4/5 of the results
                rows = rng.permutation(len(x))[: max(2, len(x) * 4 // 5)]
            model = MLPRegressor(hidden_layer_sizes=(64, 64), alpha=1e-3, max_iter=500,
                                 random_state=int(rng.integers(2**31)))  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x[rows], y[rows])
            predictions += model.predict(grid)
        order = np.argsort(predictions, kind="stable")
        return [candidates[int(i)] for i in order]
