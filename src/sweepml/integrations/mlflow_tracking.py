"""``MLflowCallback``: every finished trial of a search, logged to MLflow.

One parent run per study (found again when the study resumes, by its tags), one child run per
trial: the config as params, the value and the trial's metrics, the intermediate values as steps
of ``intermediate_value``, the duration, the status (as MLflow's run status and, exactly, as the
tag ``sweepml.status``), the error text of a failed trial, and the start and end times the trial
had. The parent carries ``best_value`` with the trial number as its step, and is marked finished
after each trial, so a search that dies leaves no run hanging as RUNNING.

MLflow being unreachable is not the search's problem: a failed log is a warning (once) and the
search goes on.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.tracking import MlflowClient

from sweepml.callbacks import SearchCallback
from sweepml.trial import TrialRecord, TrialStatus

if TYPE_CHECKING:
    from sweepml.study import Study

__all__ = ["MLflowCallback"]

logger = logging.getLogger(__name__)

_RUN_STATUS = {
    TrialStatus.OK: "FINISHED",
    TrialStatus.PRUNED: "FINISHED",  # stopped early by design, with its values so far
    TrialStatus.INTERRUPTED: "KILLED",
}
_VALUE_LIMIT = 6000  # MLflow's limit on a param value (characters)
_TAG_LIMIT = 5000  # and on a tag value, with room to spare
_NOT_A_KEY = re.compile(r"[^\w\-. /]")  # MLflow keys: alphanumerics, _ - . space /


class MLflowCallback(SearchCallback):
    """Log each finished trial as a child run of one parent run per study.

    Args:
        tracking_uri: where to log (``http://host:5000``, ``databricks``, a ``sqlite:///`` file
            ...); None uses MLflow's default (``MLFLOW_TRACKING_URI``).
        experiment: the MLflow experiment (created if absent); None names it after the study.
        tags: extra tags on the parent run.

    Example:
        >>> callback = MLflowCallback("http://127.0.0.1:5000")  # doctest: +SKIP
        >>> sweepml.minimize(objective, space, n_trials=50, callbacks=[callback])  # doctest: +SKIP
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        experiment: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.client = MlflowClient(tracking_uri)
        self.experiment = experiment
        self.tags = dict(tags or {})
        self._parents: dict[str, tuple[str, str]] = {}  # study → (experiment id, parent run id)
        self._best: dict[str, float] = {}
        self._warned = False

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        try:
            self._log(study, record)
        except Exception as exc:  # noqa: BLE001 - the search goes on without its MLflow record
            if not self._warned:
                logger.warning(
                    "MLflowCallback could not log trial %d of study %r (%s: %s); the search "
                    "goes on, later failures are not reported.",
                    record.number, study.name, type(exc).__name__, exc,
                )  # fmt: skip
                self._warned = True

    def parent_run_id(self, study: Study) -> str:
        """The id of the study's parent run, created on first use or found again on resume."""
        return self._parent(study)[1]

    def _parent(self, study: Study) -> tuple[str, str]:
        if study.name in self._parents:
            return self._parents[study.name]
        name = self.experiment or study.name
        found = self.client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found else self.client.create_experiment(name)
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`sweepml.study` = '{_quoted(study.name)}' and tags.`sweepml.role` = 'study'"
            ),
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1,
        )
        if runs:
            run_id = runs[0].info.run_id
        else:
            tags = {
                **self.tags,
                "sweepml.study": study.name,
                "sweepml.role": "study",
                "sweepml.direction": study.direction,
            }
            run_id = self.client.create_run(
                experiment_id, tags=tags, run_name=study.name
            ).info.run_id
        self._parents[study.name] = (experiment_id, run_id)
        return experiment_id, run_id

    def _log(self, study: Study, record: TrialRecord) -> None:
        if study.name not in self._best:  # a resumed study: its best so far is the bar
            finished = [t for t in study.trials if t.number != record.number]
            values = [
                float(t.value)  # type: ignore[arg-type]
                for t in finished
                if t.status is TrialStatus.OK and _finite(t.value)
            ]
            if values:
                pick = min if study.direction == "minimize" else max
                self._best[study.name] = pick(values)
        experiment_id, parent = self._parent(study)
        started = _ms(record.started_at)
        ended = _ms(record.finished_at) if record.finished_at is not None else _ms(time.time())
        tags = {
            "mlflow.parentRunId": parent,
            "sweepml.study": study.name,
            "sweepml.role": "trial",
            "sweepml.trial": str(record.number),
            "sweepml.status": record.status.value,
        }
        if record.error:
            tags["sweepml.error"] = record.error[-_TAG_LIMIT:]  # a traceback's end says most
        if record.retry_of is not None:
            tags["sweepml.retry_of"] = str(record.retry_of)
        run = self.client.create_run(
            experiment_id, start_time=started, tags=tags, run_name=f"trial {record.number}"
        )
        params = [Param(_key(k), _param_value(v)) for k, v in record.config.items()]
        if record.budget is not None:
            params.append(Param("budget", str(record.budget)))
        metrics = [Metric(_key(k), v, ended, 0) for k, v in _numbers(record.metrics)]
        if _finite(record.value):
            metrics.append(Metric("value", float(record.value), ended, 0))  # type: ignore[arg-type]
        if record.started_at is not None and record.finished_at is not None:
            duration = record.finished_at - record.started_at
            metrics.append(Metric("duration_s", duration, ended, 0))
        metrics += [
            Metric("intermediate_value", float(v), ended, int(step))
            for step, v in record.intermediate
            if _finite(v)
        ]
        run_id = run.info.run_id
        for start in range(0, len(params), 100):  # MLflow's limits on one batch
            self.client.log_batch(run_id, params=params[start : start + 100])
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[start : start + 1000])
        status = _RUN_STATUS.get(record.status, "FAILED")
        self.client.set_terminated(run_id, status=status, end_time=ended)
        self._mark_best(study, parent, record, ended)

    def _mark_best(self, study: Study, parent: str, record: TrialRecord, ended: int) -> None:
        if record.status is TrialStatus.OK and _finite(record.value):
            value = float(record.value)  # type: ignore[arg-type]
            best = self._best.get(study.name)
            if best is None or (value < best if study.direction == "minimize" else value > best):
                self._best[study.name] = value
                self.client.log_batch(
                    parent,
                    metrics=[Metric("best_value", value, ended, record.number)],
                    tags=[RunTag("sweepml.best_trial", str(record.number))],
                )
        self.client.set_terminated(parent, status="FINISHED", end_time=ended)


def _ms(seconds: float | None) -> int:
    return int((time.time() if seconds is None else seconds) * 1000)


def _key(name: Any) -> str:
    return _NOT_A_KEY.sub("_", str(name))[:250] or "_"


def _param_value(value: Any) -> str:
    return str(value)[:_VALUE_LIMIT]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(metrics: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The trial's metrics MLflow can plot: finite numbers (other values stay in sweepml)."""
    return [(name, float(value)) for name, value in metrics.items() if _finite(value)]


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
