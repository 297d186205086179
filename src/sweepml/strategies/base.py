"""The ask/tell protocol every search strategy follows, and the registry of strategies by name.

A strategy proposes configs (``ask``) and learns from results (``tell``). It sees only what ``tell``
gives it: no storage, executor or study. Several asks may be outstanding before their tells
(asynchronous parallel search). A strategy is rebuilt on resume by telling it the stored history
again; those replayed suggestions carry ``id=None`` because this instance never asked them.
Strategies always *minimize* ``Outcome.loss``; the study negates values for ``maximize``.

Randomness is keyed, not streamed: before each ask, ``self.rng`` is reseeded from the seed and the
ask's ``key`` (the search passes the trial number, which the storage hands out once per study).
So a strategy rebuilt by replay continues the sequence an uninterrupted serial run would have
followed instead of starting it over, and two drivers sharing a study with one seed never draw the
same numbers.
"""

from __future__ import annotations

import abc
import copy
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from sweepml.exceptions import InvalidParameterError, SweepmlError
from sweepml.space import Space
from sweepml.trial import TrialStatus

__all__ = [
    "Outcome",
    "Strategy",
    "Suggestion",
    "make_strategy",
    "register_strategy",
    "strategy_names",
]


@dataclass(frozen=True)
class Suggestion:
    """A config to evaluate, with an optional budget (fidelity) and strategy bookkeeping."""

    config: Mapping[str, Any]
    id: int | None = None
    budget: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a strategy learns about a suggestion: how it ended and the loss (lower is better)."""

    status: TrialStatus
    loss: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is TrialStatus.OK and self.loss is not None


class Strategy(abc.ABC):
    """Base class of search strategies.

    Subclasses implement ``_ask`` (return ``self._suggest(config)`` or None when nothing can be
    proposed right now) and ``_tell``. ``bind`` attaches the space and the seed; a study binds a
    private copy, so a strategy object passed by the user stays an unbound description.
    """

    name: ClassVar[str] = ""
    #: True for proposers that model results at every budget (BOHB's); a multi-fidelity wrapper
    #: then tells them every result with its budget, not only each config's first one.
    learns_all_budgets: ClassVar[bool] = False
    #: True for strategies whose rewards only make sense from a weight-sharing objective (one
    #: whose ``shares_weights`` is True, such as ``sweepml.nas.SharedWeights``): ENAS's
    #: controller learns from thousands of cheap shared-weight evaluations
    needs_shared_weights: ClassVar[bool] = False

    def __init__(self) -> None:
        self._space: Space | None = None
        self.rng = np.random.default_rng()
        self._next_id = 0
        self._n_seen = 0  # suggestions asked, retried or replayed: the default ask key
        self._pending: dict[int, Suggestion] = {}

    # -- binding ----------------------------------------------------------------------------
    def bind(self, space: Space, seed: int | None = None) -> None:
        """Attach the search space and seed; called once, before the first ask."""
        if self._space is not None:
            raise SweepmlError(f"{type(self).__name__} is already bound to a space.")
        self._space = space
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self._entropy = seed if seed is not None else secrets.randbits(63)
        self._setup(space)

    def _setup(self, space: Space) -> None:
        """Hook for work that needs the space (building a grid, a sampler, ...)."""

    @property
    def space(self) -> Space:
        if self._space is None:
            raise SweepmlError(
                f"{type(self).__name__} is not bound to a space; pass it to minimize()/maximize() "
                f"or call bind(space, seed) first."
            )
        return self._space

    # -- ask / tell -------------------------------------------------------------------------
    def ask(self, *, key: int | None = None) -> Suggestion | None:
        """The next suggestion, or None when nothing can be proposed until a pending one is told.

        Args:
            key: a non-negative int unique to this ask within the search, from which the ask's
                random draws come (the search passes the trial number). Same seed, same key and
                same history told: same suggestion. Default: how many suggestions this strategy
                has asked, retried or been told as history.
        """
        self.space  # noqa: B018 - raises the "not bound" error early
        self._reseed(self._n_seen if key is None else key)
        suggestion = self._ask()
        if suggestion is not None:
            self._n_seen += 1
        return suggestion

    def _reseed(self, key: int) -> None:
        """Draw this ask's randomness from (seed, key). Strategies holding another generator (a
        wrapped strategy, an Optuna sampler) reseed it here from ``self.rng``."""
        self.rng = np.random.default_rng([self._entropy, key])

    def _subkey(self) -> int:
        """A key for an ask this strategy makes of another one (a wrapped base)."""
        return int(self.rng.integers(2**62))

    def tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        """Report how ``suggestion`` went; suggestions with ``id=None`` are replayed history."""
        self.space  # noqa: B018
        if suggestion.id is not None:
            self._pending.pop(suggestion.id, None)
        else:
            self._n_seen += 1
        self._tell(suggestion, outcome)

    def retry(self, suggestion: Suggestion) -> Suggestion:
        """Take back an interrupted suggestion (from an earlier run) to evaluate it again.

        It becomes pending like an asked one, so no strategy proposes it twice meanwhile.
        """
        self.space  # noqa: B018
        self._n_seen += 1
        return self._suggest(suggestion.config, budget=suggestion.budget, info=suggestion.info)

    @property
    def finished(self) -> bool:
        """True when the strategy will never propose anything again (an exhausted grid)."""
        return False

    @property
    def pending(self) -> list[Suggestion]:
        """Suggestions asked but not yet told."""
        return list(self._pending.values())

    def _suggest(
        self,
        config: Mapping[str, Any],
        *,
        budget: float | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Suggestion:
        suggestion = Suggestion(dict(config), self._next_id, budget, dict(info or {}))
        self._pending[self._next_id] = suggestion
        self._next_id += 1
        return suggestion

    @abc.abstractmethod
    def _ask(self) -> Suggestion | None: ...

    @abc.abstractmethod
    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None: ...

    def __repr__(self) -> str:
        public = {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "rng"}
        args = ", ".join(f"{k}={v!r}" for k, v in public.items() if k != "seed")
        return f"{type(self).__name__}({args})"


_S = TypeVar("_S", bound=type[Strategy])
_REGISTRY: dict[str, Callable[[], Strategy]] = {}
_BUILTIN_MODULES = ("random", "grid", "tpe", "evolution", "asha", "hyperband", "bohb")


def register_strategy(name: str) -> Callable[[_S], _S]:
    """Class decorator: make a strategy available by ``name`` (its no-argument constructor)."""

    def decorate(cls: _S) -> _S:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


#: strategies that other packages (and sweepml's own torch-using ``nas`` package) declare under
#: the ``sweepml.strategies`` entry-point group: name -> "module:Class", imported on first use
_PLUGINS: dict[str, Any] = {}


def _load_builtins() -> None:
    import importlib
    from importlib.metadata import entry_points

    for module in _BUILTIN_MODULES:
        importlib.import_module(f"sweepml.strategies.{module}")
    if not _PLUGINS:
        for entry in entry_points(group="sweepml.strategies"):
            _PLUGINS.setdefault(entry.name, entry)


def strategy_names() -> list[str]:
    """The names accepted by ``make_strategy`` (and by ``minimize(strategy=...)``)."""
    _load_builtins()
    return sorted(set(_REGISTRY) | set(_PLUGINS))


def _load_plugin(name: str, owner: str) -> None:
    """Import the module that registers the plug-in strategy ``name`` (it needs its extras)."""
    entry = _PLUGINS[name]
    try:
        cls = entry.load()
    except ImportError as error:
        raise InvalidParameterError(
            f"The strategy {name!r} of {owner} needs a package that is not installed "
            f"({error}); for the NAS strategies: pip install 'sweepml[nas]'."
        ) from None
    _REGISTRY.setdefault(name, cls)


def make_strategy(spec: str | Strategy, *, owner: str = "minimize") -> Strategy:
    """A fresh, unbound strategy from a registered name or a copy of an (unbound) instance."""
    if isinstance(spec, Strategy):
        if spec._space is not None:
            raise InvalidParameterError(
                f"The 'strategy' parameter of {owner} must be an unbound strategy; this "
                f"{type(spec).__name__} is already used by another search."
            )
        return copy.deepcopy(spec)
    names = strategy_names()
    if isinstance(spec, str) and spec not in _REGISTRY and spec in _PLUGINS:
        _load_plugin(spec, owner)
    if not isinstance(spec, str) or spec not in _REGISTRY:
        raise InvalidParameterError(
            f"The 'strategy' parameter of {owner} must be one of {names} or a Strategy instance; "
            f"got {spec!r}."
        )
    return _REGISTRY[spec]()
