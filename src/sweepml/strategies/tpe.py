"""Optuna's model-based samplers (TPE, CMA-ES) behind our ask/tell protocol.

We keep an in-memory Optuna study as the sampler's working memory and walk our space
define-by-run, so that only the active branch of a conditional space is suggested to Optuna, as
its TPE expects. Choices are suggested as option indices, so any JSON option (a list of layer
widths, say) works. Pending suggestions stay RUNNING trials in that study, and TPE's constant liar
keeps parallel workers from being handed the same region. Replayed history enters with
``add_trial``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sweepml._validation import check_bool, check_int
from sweepml.space import Choice, Const, Float, Int, Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy
from sweepml.trial import TrialStatus

if TYPE_CHECKING:
    import optuna

__all__ = ["CMAES", "TPE", "OptunaStrategy"]


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO lines and experimental warnings, then restore them."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(previous)


def _distributions(
    space: Space, config: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optuna params and distributions of the active, non-constant parameters of ``config``."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    params: dict[str, Any] = {}
    dists: dict[str, Any] = {}
    for name, param in space.active(config):
        if isinstance(param, Float):
            dists[name] = FloatDistribution(param.low, param.high, log=param.log)
            params[name] = float(config[name])
        elif isinstance(param, Int):
            dists[name] = IntDistribution(param.low, param.high, log=param.log)
            params[name] = int(config[name])
        elif isinstance(param, Choice):
            dists[name] = CategoricalDistribution(list(range(len(param.options))))
            params[name] = param.index(config[name])
    return params, dists


def _suggest_into(trial: optuna.Trial, space: Space, config: dict[str, Any]) -> None:
    for name, param in space.items():
        if isinstance(param, Float):
            config[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
        elif isinstance(param, Int):
            config[name] = trial.suggest_int(name, param.low, param.high, log=param.log)
        elif isinstance(param, Const):
            config[name] = param.value
        else:
            index = trial.suggest_categorical(name, list(range(len(param.options))))
            config[name] = param.values[index]
            branch = param.branches[index]
            if branch is not None:
                _suggest_into(trial, branch, config)


def _reseed_sampler(sampler: Any, rng: Any, depth: int = 0) -> None:
    """Reseed every random state of an Optuna sampler and of the samplers it holds.

    Optuna keeps them in ``LazyRandomState`` attributes (TPE: its own and its random sampler's;
    CMA-ES: its own and its independent sampler's) and has no public way to seed them again
    deterministically (``reseed_rng`` draws from the OS).
    """
    from optuna.samplers import BaseSampler
    from optuna.samplers._lazy_random_state import LazyRandomState

    for value in vars(sampler).values():
        if isinstance(value, LazyRandomState):
            value.rng.seed(int(rng.integers(2**31)))
        elif isinstance(value, BaseSampler) and depth < 2:
            _reseed_sampler(value, rng, depth + 1)


class OptunaStrategy(Strategy):
    """Adapter base: subclasses build the Optuna sampler in ``_make_sampler``.

    ``max_history`` bounds what the sampler sees: once the study holds 1.5x that many finished
    trials, it is rebuilt from the best quarter of ``max_history`` and the most recent rest. An
    Optuna TPE ask walks every trial in Python, so without a bound the driver's cost per ask
    grows with the search until it, not the workers, sets the pace (benchmarks/RESULTS.md).
    """

    max_history: int | None = None

    def _make_sampler(self, space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def _new_study(self) -> optuna.Study:
        import optuna

        seed = None if self.seed is None else self.seed + self._rebuilds
        with _quiet_optuna():
            return optuna.create_study(
                sampler=self._make_sampler(self.space, seed), direction="minimize"
            )

    def _setup(self, space: Space) -> None:
        self._rebuilds = 0
        self._study = self._new_study()
        self._in_study = 0  # finished trials in the current study
        self._finished: list[optuna.trial.FrozenTrial] = []
        self._trials: dict[int, tuple[optuna.Study, optuna.Trial]] = {}

    def _reseed(self, key: int) -> None:
        """Reseed the sampler's own generators from this ask's key (see ``Strategy.ask``)."""
        super()._reseed(key)
        _reseed_sampler(self._study.sampler, self.rng)

    def _ask(self) -> Suggestion:
        with _quiet_optuna():
            trial = self._study.ask()
            config: dict[str, Any] = {}
            _suggest_into(trial, self.space, config)
        suggestion = self._suggest(config)
        assert suggestion.id is not None
        self._trials[suggestion.id] = (self._study, trial)
        return suggestion

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        from optuna.trial import TrialState, create_trial

        asked = self._trials.pop(suggestion.id, None) if suggestion.id is not None else None
        if outcome.ok:
            state, value = TrialState.COMPLETE, outcome.loss
        elif outcome.status is TrialStatus.PRUNED:
            state, value = TrialState.PRUNED, None
        else:
            state, value = TrialState.FAIL, None
        frozen = None
        if outcome.status.finished:
            params, dists = _distributions(self.space, suggestion.config)
            frozen = create_trial(state=state, value=value, params=params, distributions=dists)
        with _quiet_optuna():
            if asked is not None:
                study, trial = asked
                study.tell(trial, value, state=state)
                if study is not self._study and frozen is not None:  # asked before a rebuild
                    self._study.add_trial(frozen)
            elif frozen is not None:
                self._study.add_trial(frozen)
        if frozen is not None:
            self._finished.append(frozen)
            self._in_study += 1
            if self.max_history is not None and self._in_study > 1.5 * self.max_history:
                self._rebuild(self.max_history)

    def _rebuild(self, size: int) -> None:
        """A fresh sampler study holding the best quarter of ``size`` and the most recent rest.

        Trials asked before the rebuild are told to their own study and added to this one."""
        ranked = sorted(
            (t for t in self._finished if t.value is not None),
            key=lambda t: t.value if t.value is not None else math.inf,
        )
        best = ranked[: size // 4]
        chosen = {id(t) for t in best}
        recent = [t for t in self._finished if id(t) not in chosen][-(size - len(best)) :]
        self._rebuilds += 1
        self._study = self._new_study()
        with _quiet_optuna():
            self._study.add_trials(best + recent)
        self._in_study = len(best) + len(recent)


@register_strategy("tpe")
class TPE(OptunaStrategy):
    """Tree-structured Parzen Estimator (Optuna's TPESampler).

    ``multivariate=None`` (auto) models the parameters jointly on spaces without conditions and
    independently on conditional ones. Measured (median of 20 seeds, see benchmarks/RESULTS.md):
    joint modelling wins on Branin and Hartmann-6 (0.417 vs 0.448, -3.228 vs -2.996 after 100
    trials), while on a five-model conditional space the grouped joint model trailed random search
    after 50 trials and independent TPE led it. ``constant_liar=True`` treats pending trials as bad
    results so that parallel workers spread out.

    Example:
        >>> TPE(n_startup_trials=20).max_history
        1000
    """

    def __init__(
        self,
        *,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool | None = None,
        constant_liar: bool = True,
        max_history: int | None = 1000,
    ) -> None:
        super().__init__()
        self.n_startup_trials = check_int("TPE", "n_startup_trials", n_startup_trials, minimum=0)
        self.n_ei_candidates = check_int("TPE", "n_ei_candidates", n_ei_candidates, minimum=1)
        self.multivariate = check_bool("TPE", "multivariate", multivariate, optional=True)
        self.constant_liar = check_bool("TPE", "constant_liar", constant_liar)
        self.max_history = check_int("TPE", "max_history", max_history, minimum=8, optional=True)

    def _make_sampler(self, space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
        import optuna

        conditional = any(isinstance(p, Choice) and p.conditional for p in space.values())
        joint = not conditional if self.multivariate is None else self.multivariate
        return optuna.samplers.TPESampler(
            n_startup_trials=self.n_startup_trials,
            n_ei_candidates=self.n_ei_candidates,
            multivariate=joint,
            group=joint and conditional,
            constant_liar=self.constant_liar,
            seed=seed,
        )


@register_strategy("cmaes")
class CMAES(OptunaStrategy):
    """CMA-ES (Optuna's CmaEsSampler) for numeric spaces.

    Choices, and parameters of conditional branches, are sampled at random by Optuna's
    independent sampler: prefer ``tpe`` for spaces that are mostly categorical.

    Example:
        >>> CMAES(popsize=8)
        CMAES(n_startup_trials=1, popsize=8)
    """

    def __init__(self, *, n_startup_trials: int = 1, popsize: int | None = None) -> None:
        super().__init__()
        self.n_startup_trials = check_int("CMAES", "n_startup_trials", n_startup_trials, minimum=0)
        self.popsize = check_int("CMAES", "popsize", popsize, minimum=2, optional=True)

    def _make_sampler(self, space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
        import optuna

        return optuna.samplers.CmaEsSampler(
            n_startup_trials=self.n_startup_trials,
            popsize=self.popsize,
            seed=seed,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
