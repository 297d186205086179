"""The fit's leaderboard: every successful pipeline, the dummy baseline and the ensemble."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sweepml.tabular.ensemble import EnsembleResult
from sweepml.tabular.evaluation import is_partial
from sweepml.tabular.metrics import Metric
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["leaderboard"]


def leaderboard(
    trials: list[TrialRecord],
    metric: Metric,
    *,
    dummy_loss: float,
    ensemble: EnsembleResult | None,
) -> pd.DataFrame:
    """Every successful pipeline, the dummy (trial -1) and the ensemble (trial -2, when its loss
    is known), best first; successive halving's trials on a share of the rows ("data share" < 1)
    come last. Scores read as the metric reads (a ROC AUC higher is better, a loss lower);
    "rounds" is what a boosting trial's early stopping kept (its refit trains that many)."""
    sign = -1.0 if metric.greater_is_better else 1.0
    column = f"validation {metric.name}"
    rows: list[dict[str, Any]] = [
        {
            "trial": t.number,
            "pipeline": t.config["model"],
            column: sign * (t.value or 0.0),
            "fit seconds": t.metrics.get("fit_seconds"),
            "predict seconds": t.metrics.get("predict_seconds"),
            "rounds": t.metrics.get("rounds"),
            "data share": t.budget or 1.0,
            "config": dict(t.config),
            "_loss": t.value,
            "_partial": is_partial(t),
        }
        for t in trials
        if t.status is TrialStatus.OK
    ]
    rows.append(
        {
            "trial": -1,
            "pipeline": "dummy",
            column: sign * dummy_loss,
            "config": {"model": "dummy"},
            "data share": 1.0,
            "_loss": dummy_loss,
            "_partial": False,
        }
    )
    if ensemble is not None and ensemble.loss is not None:
        members = {
            f"{config['model']} #{i}": round(weight, 4)
            for i, (weight, _, config) in enumerate(ensemble.members)
        }
        summary: dict[str, Any] = {"members": members}
        if ensemble.stacker is not None:  # the weights then only say how members were chosen
            summary["stacker"] = type(ensemble.stacker).__name__
        rows.append(
            {
                "trial": -2,
                "pipeline": "ensemble",
                column: sign * ensemble.loss,
                "config": summary,
                "data share": 1.0,
                "_loss": ensemble.loss,
                "_partial": False,
            }
        )
    board = pd.DataFrame(rows)
    board = board.sort_values(["_partial", "_loss", "trial"])
    board = board.drop(columns=["_loss", "_partial"])
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.reset_index(drop=True)
