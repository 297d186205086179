"""Test suites that every strategy and storage must pass (pytest classes to subclass)."""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sweepml.exceptions import StorageError, StudyExistsError, SweepmlError
from sweepml.space import Choice, Const, Float, Int, Space
from sweepml.storage.base import DriverInfo, Storage, StudyInfo
from sweepml.strategies.base import Outcome, Strategy, Suggestion
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["StorageConformance", "StrategyConformance", "conditional_space"]


def conditional_space() -> Space:
    """A small mixed space with a two-level condition, for exercising strategies."""
    return Space(
        {
            "x": Float(-2.0, 2.0),
            "lr": Float(1e-4, 1e-1, log=True),
            "model": Choice(
                {
                    "linear": None,
                    "tree": {"depth": Int(1, 8), "split": Choice(["gini", "entropy"])},
                    "net": {
                        "units": Int(8, 256, log=True),
                        "act": Choice({"relu": None, "leaky": {"slope": Float(0.01, 0.3)}}),
                    },
                }
            ),
            "tag": Const("v1"),
        }
    )


def toy_loss(config: Mapping[str, Any]) -> float:
    penalty = {"linear": 1.0, "tree": 0.5, "net": 0.0}[config["model"]]
    return (config["x"] - 0.5) ** 2 + abs(math.log10(config["lr"]) + 2) + penalty


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


class StrategyConformance:
    """Subclass and implement ``make_strategy`` (a fresh, unbound instance).

    ``resumes_exactly``: a strategy rebuilt by replaying the first results proposes what an
    uninterrupted run would have; set it False only for a strategy that cannot (say why), which
    must then still repeat no config the uninterrupted run would not repeat.
    """

    n_trials = 30
    resumes_exactly = True

    def make_strategy(self) -> Strategy:
        raise NotImplementedError

    def make_space(self) -> Space:
        return conditional_space()

    def _bound(self, seed: int | None = 0) -> Strategy:
        strategy = self.make_strategy()
        strategy.bind(self.make_space(), seed)
        return strategy

    def _run(self, strategy: Strategy, n: int) -> list[dict]:
        configs = []
        for _ in range(n):
            suggestion = strategy.ask()
            if suggestion is None:
                assert strategy.finished
                break
            configs.append(dict(suggestion.config))
            strategy.tell(suggestion, Outcome(TrialStatus.OK, toy_loss(suggestion.config)))
        return configs

    def _run_keyed(self, strategy: Strategy, start: int, stop: int) -> list[Suggestion]:
        """Serial asks and tells as the search loop makes them: key = trial number."""
        asked: list[Suggestion] = []
        for number in range(start, stop):
            suggestion = strategy.ask(key=number)
            if suggestion is None:
                assert strategy.finished
                break
            asked.append(suggestion)
            strategy.tell(suggestion, Outcome(TrialStatus.OK, toy_loss(suggestion.config)))
        return asked

    def test_resume_continues_the_sequence(self) -> None:
        n, k = self.n_trials, self.n_trials // 2
        whole = self._run_keyed(self._bound(11), 0, n)
        resumed = self._bound(11)
        for done in whole[:k]:  # what a resumed search replays from the storage
            replayed = Suggestion(done.config, None, done.budget, done.info)
            resumed.tell(replayed, Outcome(TrialStatus.OK, toy_loss(done.config)))
        rest = self._run_keyed(resumed, k, n)
        full = [_key(s.config) for s in whole]
        again = full[:k] + [_key(s.config) for s in rest]
        if self.resumes_exactly:
            assert again == full, "after a resume the strategy proposed other configs"
        else:
            assert len(set(again)) >= len(set(full)), "a resumed strategy repeated configs"

    def test_asks_valid_configs(self) -> None:
        strategy, space = self._bound(), self.make_space()
        configs = self._run(strategy, self.n_trials)
        assert configs
        for config in configs:
            space.validate(config)

    def test_same_seed_same_sequence(self) -> None:
        assert self._run(self._bound(7), self.n_trials) == self._run(self._bound(7), self.n_trials)

    def test_several_asks_before_tells(self) -> None:
        strategy, space = self._bound(), self.make_space()
        for _ in range(3):
            batch = [s for s in (strategy.ask() for _ in range(4)) if s is not None]
            assert len(strategy.pending) == len(batch)
            assert len({s.id for s in batch}) == len(batch)
            for i, suggestion in enumerate(reversed(batch)):
                space.validate(suggestion.config)
                outcome = (
                    Outcome(TrialStatus.FAILED)
                    if i == 0
                    else Outcome(TrialStatus.OK, toy_loss(suggestion.config))
                )
                strategy.tell(suggestion, outcome)
            assert strategy.pending == []

    def test_rebuilt_by_replay(self) -> None:
        history = self._run(self._bound(3), self.n_trials)
        rebuilt = self._bound(4)
        for config in history:
            rebuilt.tell(Suggestion(config), Outcome(TrialStatus.OK, toy_loss(config)))
        rebuilt.tell(Suggestion(history[0]), Outcome(TrialStatus.CRASHED))
        suggestion = rebuilt.ask()
        if suggestion is None:
            assert rebuilt.finished
        else:
            self.make_space().validate(suggestion.config)

    def test_retry_becomes_pending(self) -> None:
        strategy = self._bound()
        config = self.make_space().default()
        retried = strategy.retry(Suggestion(config))
        assert retried.id is not None and retried.config == config
        assert [s.id for s in strategy.pending] == [retried.id]
        strategy.tell(retried, Outcome(TrialStatus.OK, 1.0))
        assert strategy.pending == []

    def test_unbound_ask_is_a_clear_error(self) -> None:
        with pytest.raises(SweepmlError, match="not bound"):
            self.make_strategy().ask()


def _add_from_process(spec: str, study: str, count: int, limit: int | None) -> list[int]:
    """In a child process: reserve and add ``count`` trials to ``study``; the numbers added."""
    from sweepml.storage import open_storage

    storage = open_storage(spec)
    added = []
    for _ in range(count):
        number = storage.reserve_number(study)
        if storage.add_trial(study, TrialRecord(number, {"x": number}), max_trials=limit):
            added.append(number)
    storage.close()
    return added


class StorageConformance:
    """Subclass and implement ``make_storage(tmp_path)``; ``reopen`` for durable storages, and
    ``spec(tmp_path)`` (what ``open_storage`` takes) for one that several processes share."""

    durable = False

    def make_storage(self, tmp_path: Path) -> Storage:
        raise NotImplementedError

    def reopen(self, storage: Storage, tmp_path: Path) -> Storage:
        return storage

    def spec(self, tmp_path: Path) -> str | None:
        """How another process opens the same storage; None for one that lives in a process."""
        return None

    @staticmethod
    def _info(name: str = "s") -> StudyInfo:
        return StudyInfo(name, "minimize", conditional_space().to_dict(), 1.0, {"seed": 1})

    def _with_study(self, tmp_path: Path) -> Storage:
        storage = self.make_storage(tmp_path)
        storage.create_study(self._info())
        return storage

    @staticmethod
    def _add(storage: Storage, record: TrialRecord, **kw: Any) -> TrialRecord:
        numbered = replace(record, number=storage.reserve_number("s"))
        assert storage.add_trial("s", numbered, **kw)
        return numbered

    def test_studies_by_name(self, tmp_path: Path) -> None:
        storage = self.make_storage(tmp_path)
        assert storage.study_names() == [] and storage.get_study("a") is None
        storage.create_study(self._info("a"))
        storage.create_study(self._info("b"))
        assert storage.study_names() == ["a", "b"]
        assert storage.get_study("a") == self._info("a")
        with pytest.raises(StudyExistsError, match="already exists"):
            storage.create_study(self._info("a"))

    def test_numbers_are_reserved_once(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        numbers = [storage.reserve_number("s") for _ in range(5)]
        assert numbers == sorted(set(numbers))
        storage = self.reopen(storage, tmp_path)
        block = storage.reserve_number("s", 4)
        assert block > numbers[-1]
        storage.release_numbers("s", block + 1, block + 4)  # the last ones: given back
        assert storage.reserve_number("s") == block + 1
        storage.release_numbers("s", block + 2, block + 4)  # another reserved after: kept
        assert storage.reserve_number("s") == block + 2

    def test_trial_round_trip_and_update(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        first = self._add(storage, TrialRecord(0, {"x": 1.0}, TrialStatus.INTERRUPTED))
        running = self._add(
            storage,
            TrialRecord(
                0,
                {"x": 0.5, "layers": [64, 32], "model": "linear"},
                budget=3.0,
                info={"bracket": 1},
                retry_of=first.number,
                started_at=10.0,
                driver="host:1:ab",
            ),
        )
        assert storage.trials("s")[1] == running
        done = running.finish(
            status=TrialStatus.OK,
            value=0.25,
            metrics={"acc": 0.9},
            intermediate=((0, 1.0), (1, 0.5)),
            finished_at=12.5,
        )
        assert storage.save_trial("s", done)
        storage = self.reopen(storage, tmp_path)
        trials = storage.trials("s")
        assert [t.number for t in trials] == [first.number, running.number]
        assert trials[1] == done and trials[1].duration == 2.5

    def test_a_finished_trial_is_never_overwritten(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        record = self._add(storage, TrialRecord(0, {"x": 1.0}, started_at=1.0))
        late = record.finish(status=TrialStatus.INTERRUPTED, error="driver gone")
        assert storage.save_trial("s", late)  # RUNNING -> INTERRUPTED
        done = record.finish(status=TrialStatus.OK, value=2.0, finished_at=3.0)
        assert storage.save_trial("s", done)  # a late result still counts
        assert not storage.save_trial("s", late)
        assert storage.trials("s") == [done]

    def test_max_trials_counts_all_but_interrupted(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        self._add(storage, TrialRecord(0, {"x": 1.0}, TrialStatus.INTERRUPTED))
        self._add(storage, TrialRecord(0, {"x": 2.0}), max_trials=2)
        self._add(storage, TrialRecord(0, {"x": 3.0}, TrialStatus.OK, 1.0), max_trials=2)
        refused = TrialRecord(storage.reserve_number("s"), {"x": 4.0})
        assert not storage.add_trial("s", refused, max_trials=2)
        assert len(storage.trials("s")) == 3

    def test_an_interrupted_trial_is_retried_once(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        old = self._add(storage, TrialRecord(0, {"x": 1.0}, TrialStatus.INTERRUPTED))
        self._add(storage, TrialRecord(0, {"x": 1.0}, retry_of=old.number))
        second = TrialRecord(storage.reserve_number("s"), {"x": 1.0}, retry_of=old.number)
        assert not storage.add_trial("s", second)

    def test_changes_since_a_cursor(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        a = self._add(storage, TrialRecord(0, {"x": 1.0}))
        b = self._add(storage, TrialRecord(0, {"x": 2.0}))
        records, cursor = storage.changes("s")
        assert records == [a, b]
        assert storage.changes("s", cursor) == ([], cursor)
        done = a.finish(status=TrialStatus.OK, value=1.0)
        storage.save_trial("s", done)
        records, later = storage.changes("s", cursor)
        assert records == [done] and later > cursor

    def test_beat_lists_drivers(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        one = DriverInfo("a", "host", "m", 1, 10, 1.0)
        two = DriverInfo("b", "host", "m", 2, None, 2.0)
        storage.beat("s", one)
        statuses = {s.driver.id: s for s in storage.beat("s", two)}
        assert statuses["a"].driver == one and statuses["b"].driver == two
        assert 0 <= statuses["b"].idle <= statuses["a"].idle < 60
        assert not statuses["a"].ended
        statuses = {s.driver.id: s for s in storage.beat("s", one, ended=True)}
        assert statuses["a"].ended and not statuses["b"].ended

    def test_unknown_study_or_trial_is_an_error(self, tmp_path: Path) -> None:
        storage = self.make_storage(tmp_path)
        with pytest.raises(StorageError):
            storage.reserve_number("nope")
        storage.create_study(self._info())
        with pytest.raises(StorageError, match="no trial 7"):
            storage.save_trial("s", TrialRecord(7, {}))

    def test_several_processes_lose_nothing(self, tmp_path: Path) -> None:
        storage = self._with_study(tmp_path)
        spec = self.spec(tmp_path)
        if spec is None:
            pytest.skip("this storage lives inside one process")
        context = multiprocessing.get_context("spawn")
        with context.Pool(4) as pool:
            added = pool.starmap(_add_from_process, [(spec, "s", 40, 100)] * 4)
        numbers = [n for part in added for n in part]
        stored = storage.trials("s")
        assert len(numbers) == len(set(numbers)) == 100  # the limit held across processes
        assert sorted(t.number for t in stored) == sorted(numbers)
