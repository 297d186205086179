"""``minimize`` / ``maximize``: the search loop.

The loop keeps every worker busy, never blocks on the slowest trial, writes each trial to the
storage when it starts and when it ends (committed before it goes on), and tells the strategy.
Calling it again with the same storage and study name resumes: finished trials are kept and count
toward ``n_trials``, trials the previous run left unfinished are recorded INTERRUPTED and run again,
and the strategy is rebuilt by replaying the finished trials.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweepml._interrupts import CtrlC, remembered_ctrl_c
from sweepml._progress import ProgressDisplay
from sweepml._validation import check_bool, check_float, check_int
from sweepml.callbacks import SearchCallback
from sweepml.drivers import Heartbeat, ended_here, is_alive, running_here, this_driver
from sweepml.exceptions import InvalidParameterError, StorageError
from sweepml.execution import Executor, make_executor
from sweepml.objective import ObjectiveRunner, TrialResult, TrialTask
from sweepml.pruners import Pruner, as_losses, make_pruner
from sweepml.space import Space
from sweepml.storage import DriverStatus, Storage, open_storage
from sweepml.strategies import Outcome, Strategy, Suggestion, make_strategy
from sweepml.study import Study, open_study
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["maximize", "minimize"]

logger = logging.getLogger(__name__)

_WAIT_SLICE = 0.25  # seconds the loop waits on results before refreshing progress
_SYNC_SECONDS = 0.1  # at most this stale: the other drivers' trials the strategy has heard of


@dataclass(frozen=True)
class Budget:
    """When a search stops: whichever limit is reached first."""

    n_trials: int | None
    time_budget: float | None
    patience: int | None


@dataclass(frozen=True)
class TrialLimits:
    timeout: float | None
    memory_mb: float | None


def minimize(
    objective: Callable[..., Any],
    space: Space | Mapping[str, Any],
    *,
    strategy: str | Strategy = "tpe",
    n_trials: int | None = None,
    time_budget: float | None = None,
    patience: int | None = None,
    pruner: str | Pruner | None = None,
    n_workers: int = 1,
    executor: str | Executor = "auto",
    cluster: Any = None,
    trial_timeout: float | None = None,
    trial_memory_mb: float | None = None,
    storage: Storage | str | os.PathLike[str] | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    show_progress: bool | None = None,
    callbacks: Sequence[SearchCallback] = (),
) -> Study:
    """Search ``space`` for the config with the lowest objective value.

    Args:
        objective: ``f(config)`` returning a finite number, or a dict with the number under
            ``"value"`` and other metrics beside it. It may also declare keyword parameters
            ``trial`` (``trial.report(step, value)``) and ``budget``.
        space: a ``Space``, or a dict for ``Space.from_dict``.
        strategy: a name (``random``, ``grid``, ``tpe``, ``cmaes``, ``evolution``; with fidelities
            ``successive_halving``, ``hyperband``, ``asha``, ``bohb``) or an instance.
        n_trials: stop once this many trials have finished (earlier runs of the study included).
        time_budget: seconds for this call; running trials are cancelled at the end.
        patience: stop after this many finished trials without an improvement.
        pruner: ``"median"``, ``"asha"``, a ``Pruner``, or None: stops trials whose reported
            curve (``trial.report``) lags, when the objective asks ``trial.should_prune()``.
        n_workers: trials run at once.
        executor: ``"auto"`` (serial for one worker without limits, else local processes; Dask
            when ``cluster`` is given), ``"serial"``, ``"local"``, ``"dask"``, or an Executor.
        cluster: for Dask: a scheduler address (``"tcp://host:8786"``) or a
            ``distributed.Client``; None with ``executor="dask"`` starts a LocalCluster of
            ``n_workers`` processes. With a cluster, every worker thread runs trials.
        trial_timeout: seconds a trial may run before it is killed (TIMEOUT).
        trial_memory_mb: MiB a trial may allocate beyond its starting size (MEMOUT).
        storage: None (in memory), a SQLite file path, or a Storage; an existing study resumes.
        study_name: the study's name in the storage (default: the objective's name).
        seed: same seed, serial execution -> the same sequence of trials. Without one, a new
            study draws a seed and records it, and resuming that study reuses it.
        show_progress: a progress bar; default on when stderr is a terminal.
        callbacks: ``SearchCallback`` objects told of every finished trial, which may stop the
            search.

    Returns:
        The ``Study``; ``study.best`` is the best trial.

    Example:
        >>> import sweepml
        >>> space = {"x": sweepml.Float(-5, 5), "kind": ["a", "b"]}
        >>> study = sweepml.minimize(lambda c: c["x"] ** 2 + (c["kind"] == "b"), space,
        ...                          n_trials=30, seed=1)
        >>> study.best.config["kind"]
        'a'
    """
    return _search(
        "minimize",
        objective,
        space,
        strategy=strategy,
        n_trials=n_trials,
        time_budget=time_budget,
        patience=patience,
        pruner=pruner,
        n_workers=n_workers,
        executor=executor,
        cluster=cluster,
        trial_timeout=trial_timeout,
        trial_memory_mb=trial_memory_mb,
        storage=storage,
        study_name=study_name,
        seed=seed,
        show_progress=show_progress,
        callbacks=callbacks,
    )


def maximize(
    objective: Callable[..., Any],
    space: Space | Mapping[str, Any],
    *,
    strategy: str | Strategy = "tpe",
    n_trials: int | None = None,
    time_budget: float | None = None,
    patience: int | None = None,
    pruner: str | Pruner | None = None,
    n_workers: int = 1,
    executor: str | Executor = "auto",
    cluster: Any = None,
    trial_timeout: float | None = None,
    trial_memory_mb: float | None = None,
    storage: Storage | str | os.PathLike[str] | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    show_progress: bool | None = None,
    callbacks: Sequence[SearchCallback] = (),
) -> Study:
    """Like ``minimize``, for the config with the highest objective value."""
    return _search(
        "maximize",
        objective,
        space,
        strategy=strategy,
        n_trials=n_trials,
        time_budget=time_budget,
        patience=patience,
        pruner=pruner,
        n_workers=n_workers,
        executor=executor,
        cluster=cluster,
        trial_timeout=trial_timeout,
        trial_memory_mb=trial_memory_mb,
        storage=storage,
        study_name=study_name,
        seed=seed,
        show_progress=show_progress,
        callbacks=callbacks,
    )


def _search(direction: str, objective: Callable[..., Any], space: Any, **kw: Any) -> Study:
    owner = direction
    budget = Budget(
        check_int(owner, "n_trials", kw["n_trials"], minimum=1, optional=True),
        check_float(
            owner,
            "time_budget",
            kw["time_budget"],
            minimum=0,
            exclusive_minimum=True,
            optional=True,
        ),
        check_int(owner, "patience", kw["patience"], minimum=1, optional=True),
    )
    if budget == Budget(None, None, None):
        raise InvalidParameterError(
            f"{owner} needs a budget: set n_trials, time_budget or patience (or several)."
        )
    limits = TrialLimits(
        check_float(
            owner,
            "trial_timeout",
            kw["trial_timeout"],
            minimum=0,
            exclusive_minimum=True,
            optional=True,
        ),
        check_float(
            owner,
            "trial_memory_mb",
            kw["trial_memory_mb"],
            minimum=0,
            exclusive_minimum=True,
            optional=True,
        ),
    )
    callbacks = list(kw["callbacks"])
    for callback in callbacks:
        if not isinstance(callback, SearchCallback):
            raise InvalidParameterError(
                f"The 'callbacks' parameter of {owner} must be a list of SearchCallback objects; "
                f"got {callback!r}."
            )
    n_workers = check_int(owner, "n_workers", kw["n_workers"], minimum=1)
    assert n_workers is not None
    seed = check_int(owner, "seed", kw["seed"], minimum=0, optional=True)
    show_progress = check_bool(owner, "show_progress", kw["show_progress"], optional=True)
    if not isinstance(space, Space):
        if not isinstance(space, Mapping):
            raise InvalidParameterError(
                f"The 'space' parameter of {owner} must be a Space or a dict; got {space!r}."
            )
        space = Space.from_dict(space)
    runner = ObjectiveRunner(objective, owner=owner)
    pruner = make_pruner(kw["pruner"], owner=owner)
    if pruner is not None and not runner.wants_trial:
        raise InvalidParameterError(
            f"The 'pruner' parameter of {owner} needs an objective that reports its curve: "
            f"declare a 'trial' parameter, call trial.report(step, value) and stop when "
            f"trial.should_prune() is True."
        )
    strategy = make_strategy(kw["strategy"], owner=owner)
    if strategy.needs_shared_weights and not getattr(objective, "shares_weights", False):
        raise InvalidParameterError(
            f"The {strategy.name or type(strategy).__name__!r} strategy of {owner} learns from "
            f"weight-sharing evaluations; pass a weight-sharing objective such as "
            f"sweepml.nas.SharedWeights(data, space), or use 'reinforce' to train every child "
            f"on its own."
        )
    executor = make_executor(
        kw["executor"],
        n_workers=n_workers,
        owner=owner,
        needs_limits=limits != TrialLimits(None, None),
        cluster=kw["cluster"],
    )
    name = kw["study_name"] if kw["study_name"] is not None else _default_name(objective)
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(
            f"The 'study_name' parameter of {owner} must be a non-empty str; got {name!r}."
        )
    storage = open_storage(kw["storage"], owner=owner)
    study = open_study(storage, name, direction, space, method=type(strategy).__name__, seed=seed)
    if seed is None:  # a resumed study keeps the seed it was started with (a downsampled grid
        seed = study.info.meta.get("seed")  # must pick the same points again)
    strategy.bind(space, seed)
    loop = _SearchLoop(
        study, runner, strategy, executor, budget, limits, n_workers, callbacks, pruner
    )
    loop.run(show_progress)
    return study


def _default_name(objective: Callable[..., Any]) -> str:
    name = getattr(objective, "__name__", "")
    return name if re.fullmatch(r"[A-Za-z_][\w.-]*", name or "") else "study"


class _Numbers:
    """Trial numbers this driver has reserved and not used yet.

    They come from the storage a block at a time (one transaction serves several trials), and
    the unused ones are given back at the end, so that a search stopped and resumed numbers its
    trials as an uninterrupted one would: numbers key the strategies' randomness.
    """

    BLOCK = 8

    def __init__(self, storage: Storage, study: str) -> None:
        self.storage, self.study = storage, study
        self.next = self.stop = 0

    def peek(self) -> int:
        """The number the next trial gets (reserved, not yet used)."""
        if self.next == self.stop:
            self.next = self.storage.reserve_number(self.study, self.BLOCK)
            self.stop = self.next + self.BLOCK
        return self.next

    def use(self) -> None:
        self.next += 1

    def give_back(self) -> None:
        if self.next < self.stop:
            self.storage.release_numbers(self.study, self.next, self.stop)
            self.next = self.stop


class _SearchLoop:
    """One call's worth of searching on a study, by one driver among any number.

    Trial numbers come from the storage, and every other driver's trials reach this one through
    ``Storage.changes``, polled before asking the strategy, at most every ``_SYNC_SECONDS``: the
    strategy is told each finished trial of any driver once (those of other drivers up to that
    long, or one loop turn, stale), ``n_trials`` counts the trials of every driver, and a trial
    left RUNNING by a driver that died is marked INTERRUPTED and run again by whichever live
    driver claims it first (``drivers.py`` says how a dead driver is told from a busy one).
    """

    def __init__(
        self,
        study: Study,
        runner: ObjectiveRunner,
        strategy: Strategy,
        executor: Executor,
        budget: Budget,
        limits: TrialLimits,
        n_workers: int,
        callbacks: Sequence[SearchCallback] = (),
        pruner: Pruner | None = None,
    ) -> None:
        self.study, self.runner, self.strategy, self.executor = study, runner, strategy, executor
        self.pruner = pruner
        self.curves: list[tuple[tuple[int, float], ...]] = []  # finished trials', as losses
        self.budget, self.limits, self.n_workers = budget, limits, n_workers
        self.callbacks = list(callbacks)
        self.storage = study.storage
        self.driver = this_driver()
        self.running: dict[int, tuple[TrialRecord, Suggestion]] = {}  # this driver's
        self.others: dict[int, TrialRecord] = {}  # RUNNING trials of other drivers
        self.orphans: dict[int, TrialRecord] = {}  # INTERRUPTED, not yet retried: to claim
        self.retried: set[int] = set()
        self.told: set[int] = set()  # finished trials the strategy has heard of
        self.cursor = -1
        self.synced = -math.inf  # monotonic time of the last poll
        self.numbers = _Numbers(self.storage, study.name)
        self.full = False  # the storage refused a trial: n_trials reached across drivers
        self.n_finished = 0
        self.n_failed = 0
        self.best_loss = float("inf")
        self.since_best = 0
        self.heartbeat: Heartbeat | None = None
        self._seen_beat: list[DriverStatus] | None = None

    # -- what the other drivers did -------------------------------------------------------------
    def _sync(self, *, force: bool = False) -> None:
        """Read every change since the last poll: tell finished trials, note running and
        interrupted ones (to claim)."""
        now = time.monotonic()
        if not force and now - self.synced < _SYNC_SECONDS:
            return
        self.synced = now
        records, self.cursor = self.storage.changes(self.study.name, self.cursor)
        for record in records:
            number = record.number
            if record.retry_of is not None:
                self.retried.add(record.retry_of)
                self.orphans.pop(record.retry_of, None)
            if number in self.running:
                continue
            self.others.pop(number, None)
            if record.status.finished:
                self.orphans.pop(number, None)
                if number not in self.told:
                    self.told.add(number)
                    replayed = Suggestion(record.config, None, record.budget, record.info)
                    self.strategy.tell(replayed, self._outcome(record.status, record.value))
                    self._keep_curve(record)
                    self._count(record.status, record.value)
            elif record.status is TrialStatus.RUNNING:
                self.others[number] = record
            elif number not in self.retried:  # INTERRUPTED: run it again
                self.orphans[number] = record

    def _reclaim(self) -> None:
        """Mark INTERRUPTED the RUNNING trials whose driver is dead, so they are run again."""
        assert self.heartbeat is not None
        statuses = self.heartbeat.latest
        if statuses is self._seen_beat and not self._unknown_drivers(statuses):
            return  # nothing new since the last look
        if self._unknown_drivers(statuses):  # a driver that started after our last beat
            self.heartbeat.beat_now()
            statuses = self.heartbeat.latest
        self._seen_beat = statuses
        alive = {s.driver.id for s in statuses if is_alive(s, self.driver)}
        for number, record in list(self.others.items()):
            if record.driver in alive:
                continue
            who = record.driver or "an earlier search"
            stopped = record.finish(
                status=TrialStatus.INTERRUPTED,
                finished_at=time.time(),
                error=f"Its driver ({who}) stopped before this trial finished; it is run again.",
            )
            del self.others[number]
            if self.storage.save_trial(self.study.name, stopped) and number not in self.retried:
                self.orphans[number] = stopped

    def _unknown_drivers(self, statuses: list[DriverStatus]) -> bool:
        known = {s.driver.id for s in statuses}
        return any(r.driver is not None and r.driver not in known for r in self.others.values())

    def _resume(self) -> None:
        """Replay the record into the strategy and take over what dead drivers left."""
        self._sync(force=True)
        self._reclaim()
        if self.told or self.orphans:
            logger.info(
                "Resuming study %r: %d finished trials, %d to run again, %d running elsewhere.",
                self.study.name,
                self.n_finished,
                len(self.orphans),
                len(self.others),
            )

    def _keep_curve(self, record: TrialRecord) -> None:
        if self.pruner is not None and record.status in (TrialStatus.OK, TrialStatus.PRUNED):
            minimizing = self.study.direction == "minimize"
            self.curves.append(as_losses(record.intermediate, minimizing))

    def _outcome(self, status: TrialStatus, value: float | None) -> Outcome:
        if status is not TrialStatus.OK or value is None:
            return Outcome(status, None)
        return Outcome(status, value if self.study.direction == "minimize" else -value)

    def _count(self, status: TrialStatus, value: float | None) -> None:
        self.n_finished += 1
        outcome = self._outcome(status, value)
        if not outcome.ok and status is not TrialStatus.PRUNED:
            self.n_failed += 1
        if outcome.loss is not None and outcome.loss < self.best_loss:
            self.best_loss, self.since_best = outcome.loss, 0
        else:
            self.since_best += 1

    # -- the loop -----------------------------------------------------------------------------
    def run(self, show_progress: bool | None) -> None:
        running_here(self.driver)
        try:
            self.heartbeat = Heartbeat(lambda: self.storage.beat(self.study.name, self.driver))
            if self.executor.runs_in_driver:  # a trial blocks the loop: beat from a thread
                self.heartbeat.start()
            try:
                self._resume()
                self._loop(show_progress)
            finally:
                self.heartbeat.stop()
                self._say_ended()
        finally:
            ended_here(self.driver)

    def _say_ended(self) -> None:
        """Give back unused trial numbers and tell the other drivers this search is over, so
        that whatever it could not finish (after a storage error, say) is taken over at once
        rather than after the lease."""
        for step in (
            self.numbers.give_back,
            lambda: self.storage.beat(self.study.name, self.driver, ended=True),
        ):
            try:
                step()
            except StorageError as exc:  # the reason the search stopped, often: others wait
                logger.warning("Could not record the end of this search: %s", exc)

    def _loop(self, show_progress: bool | None) -> None:
        start = time.monotonic()
        deadline = None if self.budget.time_budget is None else start + self.budget.time_budget
        self.executor.deadline = deadline
        progress = ProgressDisplay(
            enabled=show_progress,
            n_trials=self.budget.n_trials,
            time_budget=self.budget.time_budget,
            label=self.study.name,
        )
        with remembered_ctrl_c() as ctrl_c:
            self._run_trials(ctrl_c, deadline, progress)

    def _run_trials(self, ctrl_c: CtrlC, deadline: float | None, progress: ProgressDisplay) -> None:
        assert self.heartbeat is not None
        self.executor.start(self.runner)
        self.n_workers = self.executor.n_workers  # a cluster reports how many trials it runs
        try:
            while True:
                ctrl_c.check()  # a Ctrl-C swallowed mid-fork still stops the search
                if any(callback.should_stop(self.study) for callback in self.callbacks):
                    self._cancel("Cancelled: a callback stopped the search.")
                    break
                self.heartbeat.tick()
                self._sync()
                self._reclaim()
                self._launch(deadline)
                if not self.running:
                    break
                now = time.monotonic()
                slice_ = (
                    _WAIT_SLICE if deadline is None else max(min(_WAIT_SLICE, deadline - now), 0.0)
                )
                for result in self.executor.wait(slice_):
                    self._finish(result)
                progress.update(done=self.n_finished, best=self._best_value(), failed=self.n_failed)
                if deadline is not None and time.monotonic() >= deadline:
                    self._cancel("Cancelled at the end of the time budget.")
                    break
        except KeyboardInterrupt:
            self._cancel("Cancelled by Ctrl-C (KeyboardInterrupt).")
            raise
        finally:
            self._cancel("The search stopped before this trial finished.")
            self.executor.shutdown()
            progress.update(
                done=self.n_finished, best=self._best_value(), failed=self.n_failed, force=True
            )
            progress.close()

    def _best_value(self) -> float | None:
        if self.best_loss == float("inf"):
            return None
        return self.best_loss if self.study.direction == "minimize" else -self.best_loss

    def _may_launch(self, deadline: float | None) -> bool:
        b = self.budget
        if self.full:
            return False
        started = self.n_finished + len(self.running) + len(self.others)
        if b.n_trials is not None and started >= b.n_trials:
            return False
        if deadline is not None and time.monotonic() >= deadline:
            return False
        return b.patience is None or self.since_best < b.patience

    def _launch(self, deadline: float | None) -> None:
        while len(self.running) < self.n_workers and self._may_launch(deadline):
            if self.orphans:
                started = self._start_retry(self.orphans.pop(min(self.orphans)))
                if started is None:
                    continue
            else:
                started = self._start_new()
                if started is None:
                    return
            record, suggestion = started
            self.running[record.number] = (record, suggestion)
            self.executor.submit(
                TrialTask(
                    record.number,
                    record.config,
                    record.budget,
                    self.limits.timeout,
                    self.limits.memory_mb,
                    None if self.pruner is None else self.pruner.rule(self.curves),
                    1.0 if self.study.direction == "minimize" else -1.0,
                )
            )

    def _record(self, number: int, suggestion: Suggestion, retry_of: int | None) -> TrialRecord:
        return TrialRecord(
            number=number,
            config=dict(suggestion.config),
            budget=suggestion.budget,
            info=dict(suggestion.info),
            retry_of=retry_of,
            started_at=time.time(),
            driver=self.driver.id,
        )

    def _start_new(self) -> tuple[TrialRecord, Suggestion] | None:
        """Ask the strategy for a new trial, keyed by its number; None when there is none."""
        number = self.numbers.peek()
        suggestion = self.strategy.ask(key=number)
        if suggestion is None:
            return None  # the number stays reserved for the next ask
        if suggestion.budget is not None and not self.runner.wants_budget:
            raise InvalidParameterError(
                f"The strategy {type(self.strategy).__name__} gives each trial a budget, but "
                f"the objective has no 'budget' parameter to receive it; declare one, e.g. "
                f"def objective(config, budget): ..."
            )
        record = self._record(number, suggestion, None)
        if not self.storage.add_trial(self.study.name, record, max_trials=self.budget.n_trials):
            self.strategy.tell(suggestion, Outcome(TrialStatus.INTERRUPTED))  # take it back
            self.full = True  # other drivers have started the rest of n_trials
            return None
        self.numbers.use()
        return record, suggestion

    def _start_retry(self, old: TrialRecord) -> tuple[TrialRecord, Suggestion] | None:
        """Run an interrupted trial again, unless another driver claims it first."""
        replay = Suggestion(old.config, None, old.budget, old.info)
        record = self._record(self.numbers.peek(), replay, old.number)
        if not self.storage.add_trial(self.study.name, record, max_trials=self.budget.n_trials):
            self._sync(force=True)  # shows the other driver's retry, if that is why
            self.full = old.number not in self.retried
            return None
        self.numbers.use()
        self.retried.add(old.number)
        return record, self.strategy.retry(replay)

    def _finish(self, result: TrialResult) -> None:
        record, suggestion = self.running.pop(result.number)
        record = record.finish(
            status=result.status,
            value=result.value,
            metrics=dict(result.metrics),
            intermediate=result.intermediate,
            error=result.error,
            finished_at=result.finished_at,
        )
        if not self.storage.save_trial(self.study.name, record):
            logger.warning("Trial %d was already finished in the storage.", record.number)
        logger.debug("Trial %d finished: %s %s", record.number, record.status.value, record.value)
        if record.status.finished:
            self.told.add(record.number)
            self._count(record.status, record.value)
            self._keep_curve(record)
        self.strategy.tell(suggestion, self._outcome(record.status, record.value))
        for callback in self.callbacks:
            callback.on_trial_end(self.study, record)

    def _cancel(self, reason: str) -> None:
        if self.running:
            for result in self.executor.cancel(reason):
                self._finish(result)
