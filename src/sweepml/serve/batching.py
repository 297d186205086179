"""Requests that arrive together share one model call.

A scikit-learn pipeline spends most of a one-row prediction in fixed per-call work (column
selection, validation, dispatch), so 16 one-row calls cost almost 16 times one 16-row call. The
batcher keeps one model call running per worker: requests that arrive while it runs wait in a
queue, and the next call takes all of them together (up to ``max_batch_rows`` rows), so a lone
request waits for nothing and a busy server answers many per call. TensorFlow Serving and
Triton call this dynamic batching; here it never holds a request back to wait for company.

Each request's rows were checked (a table's columns, an image's shape) before they joined the
queue; their values are converted and predicted together. Batching changes no answer: a row's
prediction depends on its own values only (tree models give the same numbers; a linear layer's
matrix product may differ in the last bits). Should the joint call fail (a value of one request
that does not convert, a model error), each request of the batch is answered on its own, so one bad
request gets its 400 and the others their predictions.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from threadpoolctl import threadpool_limits

from sweepml.serve.protocol import Invocation
from sweepml.serve.service import Service

__all__ = ["Batcher"]


@dataclass
class _Waiting:
    invocation: Invocation
    answer: asyncio.Future[dict[str, Any]] = field(repr=False)


class Batcher:
    """The one model caller of a worker: ``await predict(invocation)`` answers a request."""

    def __init__(self, service: Service, max_batch_rows: int, threads: int) -> None:
        self.service = service
        self.max_batch_rows = max_batch_rows
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._caller: asyncio.Task[None] | None = None
        service.use_threads(threads)
        # one thread: the model is called once at a time, and the event loop stays free; the
        # native pools it calls into (OpenMP, BLAS) use ``threads`` threads
        self._thread = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="sweepml-predict",
            initializer=threadpool_limits,
            initargs=(threads,),
        )

    async def predict(self, invocation: Invocation) -> dict[str, Any]:
        """The response body for ``invocation`` (rows already column-checked), or the
        ``RequestError`` / model exception its rows raise."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:  # the first request on this loop
            self._queue, self._loop = asyncio.Queue(), loop
            self._caller = loop.create_task(self._call_model(self._queue))
        waiting = _Waiting(invocation, loop.create_future())
        self._queue.put_nowait(waiting)
        return await waiting.answer  # cancelled on a timeout: the batch skips its answer

    async def _call_model(self, queue: asyncio.Queue[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        held: _Waiting | None = None  # the request that would have passed the limit
        while True:
            batch = [held if held is not None else await queue.get()]
            held = None
            rows = len(batch[0].invocation.rows)
            while not queue.empty():
                following = queue.get_nowait()
                if rows + len(following.invocation.rows) > self.max_batch_rows:
                    held = following
                    break
                rows += len(following.invocation.rows)
                batch.append(following)
            answers = await loop.run_in_executor(self._thread, self.answer_all, batch)
            for waiting, answer in zip(batch, answers):
                if waiting.answer.done():
                    continue
                if isinstance(answer, BaseException):
                    waiting.answer.set_exception(answer)
                else:
                    waiting.answer.set_result(answer)

    def answer_all(self, batch: list[_Waiting]) -> list[dict[str, Any] | BaseException]:
        """One model call for the rows of ``batch``; each on its own should that one fail."""
        if len(batch) > 1:
            try:
                outputs = self.service.outputs_of([waiting.invocation for waiting in batch])
            except Exception:  # noqa: BLE001 - answered one by one below, each with its error
                pass
            else:
                answers: list[dict[str, Any] | BaseException] = []
                start = 0
                for waiting in batch:
                    end = start + len(waiting.invocation.rows)
                    answers.append(self._answer(outputs[start:end], waiting.invocation.proba))
                    start = end
                return answers
        return [self._alone(waiting.invocation) for waiting in batch]

    def _answer(self, outputs: Any, proba: bool) -> dict[str, Any] | BaseException:
        try:
            return self.service.answer(outputs, proba)
        except Exception as exc:  # noqa: BLE001 - this request's error, not the batch's
            return exc

    def _alone(self, invocation: Invocation) -> dict[str, Any] | BaseException:
        try:
            return self.service.predict(invocation)
        except Exception as exc:  # noqa: BLE001 - handed to the request that caused it
            return exc
