"""A trial record as one row of text and numbers, the same for every SQL backend."""

from __future__ import annotations

import json
import math
from typing import Any

from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["COLUMNS", "FINISHED", "from_row", "to_row"]

#: the columns ``to_row`` fills and ``from_row`` reads, in order
COLUMNS = (
    "number, status, config, value, metrics, intermediate, error, budget, info, retry_of, "
    "started_at, finished_at, driver"
)
FINISHED = tuple(s.value for s in TrialStatus if s.finished)


def to_row(record: TrialRecord) -> tuple[Any, ...]:
    value = record.value
    if value is not None and not math.isfinite(value):
        value = None
    return (
        record.number,
        record.status.value,
        json.dumps(record.config),
        value,
        json.dumps(record.metrics, default=str),
        json.dumps(record.intermediate),
        record.error,
        record.budget,
        json.dumps(record.info),
        record.retry_of,
        record.started_at,
        record.finished_at,
        record.driver,
    )


def from_row(row: Any) -> TrialRecord:
    return TrialRecord(
        number=row[0],
        status=TrialStatus(row[1]),
        config=json.loads(row[2]),
        value=row[3],
        metrics=json.loads(row[4]),
        intermediate=tuple((int(s), float(v)) for s, v in json.loads(row[5])),
        error=row[6],
        budget=row[7],
        info=json.loads(row[8]),
        retry_of=row[9],
        started_at=row[10],
        finished_at=row[11],
        driver=row[12],
    )
