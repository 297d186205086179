"""Which hyperparameters matter: fANOVA on a random forest fitted to the trials.

Method: Optuna's ``FanovaImportanceEvaluator`` (Hutter et al. 2014): a random forest regresses
the objective value on the parameters of the OK trials, and each parameter's importance is the
share of the forest's predicted variance that its main effect explains (normalized to sum to 1).
Only parameters active in every OK trial can be assessed this way; the parameters of conditional
branches are listed as not assessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sweepml.space import Space
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["METHOD", "Importance", "parameter_importance"]

METHOD = (
    "fANOVA main effects on a random forest fitted to the OK trials (Optuna's "
    "FanovaImportanceEvaluator, 64 trees, seeded); importances sum to 1"
)


@dataclass(frozen=True)
class Importance:
    """Importance per assessed parameter (sorted, largest first) and what could not be."""

    scores: dict[str, float]
    not_assessed: tuple[str, ...]
    method: str = METHOD


def parameter_importance(
    trials: Sequence[TrialRecord], space: Space, *, seed: int = 0
) -> Importance | None:
    """None when fewer than 3 OK trials or no parameter that varies in every one of them."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.trial import TrialState, create_trial

    from sweepml.strategies.tpe import _distributions, _quiet_optuna

    done = [t for t in trials if t.status is TrialStatus.OK and t.value is not None]
    if len(done) < 3:
        return None
    assessed = set(_distributions(space, done[0].config)[1])
    frozen = []
    for t in done:
        params, dists = _distributions(space, t.config)
        assessed &= set(dists)
        frozen.append(create_trial(state=TrialState.COMPLETE, value=t.value, params=params,
                                   distributions=dists))  # fmt: skip
    varying = sorted(name for name in assessed if len({str(t.config.get(name)) for t in done}) > 1)
    not_assessed = tuple(sorted(set(space.all_params) - set(varying)))
    if not varying:
        return None
    with _quiet_optuna():
        study = optuna.create_study()
        study.add_trials(frozen)
        scores = optuna.importance.get_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=seed), params=varying
        )
    return Importance({name: float(v) for name, v in scores.items()}, not_assessed)
