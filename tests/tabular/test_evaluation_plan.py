"""How a fit splits its rows for the search: holdout on larger tables, cross-validation on small
ones and on binary tables whose holdout would hold too few rows of the rarer class."""

from __future__ import annotations

import numpy as np
import pytest

from sweepml.tabular.evaluation import HOLDOUT_FRACTION, HOLDOUT_MIN_MINORITY, plan_evaluation


def labels(n_rows: int, n_minority: int, n_classes: int = 2) -> np.ndarray:
    y = np.arange(n_rows) % (n_classes - 1)  # the common classes, evenly
    y[:n_minority] = n_classes - 1  # the rare one
    return np.random.default_rng(0).permutation(y)


@pytest.mark.parametrize(
    ("y", "task", "kind"),
    [
        (labels(600, 300), "classification", "5-fold CV"),  # few rows
        (labels(2_000, 600), "classification", "holdout"),
        (labels(1_600, 53), "classification", "5-fold CV"),  # ~18 positives in a holdout
        (labels(1_600, 53, n_classes=4), "classification", "holdout"),  # multiclass: not judged
        (labels(20_000, 53), "classification", "holdout"),  # too large to cross-validate
        (np.linspace(0, 1, 1_600), "regression", "holdout"),
    ],
)
def test_the_plan_for_a_table(y, task, kind):
    assert plan_evaluation(y, task, seed=0).kind == kind


def test_a_rare_class_holdout_keeps_enough_minority_rows_for_the_threshold():
    n_minority = int(np.ceil(HOLDOUT_MIN_MINORITY / HOLDOUT_FRACTION)) + 5
    plan = plan_evaluation(labels(3_000, n_minority), "classification", seed=0)
    assert plan.kind == "holdout"
    ((_, valid),) = plan.folds
    assert (labels(3_000, n_minority)[valid] == 1).sum() >= HOLDOUT_MIN_MINORITY


def test_cv_forced_by_the_user_wins():
    assert plan_evaluation(labels(2_000, 600), "classification", seed=0, cv=3).kind == "3-fold CV"
