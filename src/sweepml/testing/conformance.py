"""Test suites that every strategy and storage must pass (pytest classes to subclass)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sweepml.exceptions import StorageError, SweepmlError
from sweepml.space import Choice, Const, Float, Int, Space
from sweepml.storage.base import Storage, StudyInfo
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


class StrategyConformance:
    """Subclass and implement ``make_strategy`` (a fresh, unbound instance)."""

    n_trials = 30

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


class StorageConformance:
    """Subclass and implement ``make_storage(tmp_path)``; ``reopen`` for durable storages."""

    durable = False

    def make_storage(self, tmp_path: Path) -> Storage:
        raise NotImplementedError

    def reopen(self, storage: Storage, tmp_path: Path) -> Storage:
        return storage

    @staticmethod
    def _info(name: str = "s") -> StudyInfo:
        return StudyInfo(name, "minimize", conditional_space().to_dict(), 1.0, {"seed": 1})

    def test_studies_by_name(self, tmp_path: Path) -> None:
        storage = self.make_storage(tmp_path)
        assert storage.study_names() == [] and storage.get_study("a") is None
        storage.create_study(self._info("a"))
        storage.create_study(self._info("b"))
        assert storage.study_names() == ["a", "b"]
        assert storage.get_study("a") == self._info("a")
        with pytest.raises(StorageError, match="already exists"):
            storage.create_study(self._info("a"))

    def test_trial_round_trip_and_update(self, tmp_path: Path) -> None:
        storage = self.make_storage(tmp_path)
        storage.create_study(self._info())
        running = TrialRecord(
            1,
            {"x": 0.5, "layers": [64, 32], "model": "linear"},
            budget=3.0,
            info={"bracket": 1},
            retry_of=0,
            started_at=10.0,
        )
        storage.save_trial("s", TrialRecord(0, {"x": 1.0}, TrialStatus.INTERRUPTED))
        storage.save_trial("s", running)
        assert storage.trials("s")[1] == running
        done = running.finish(
            status=TrialStatus.OK,
            value=0.25,
            metrics={"acc": 0.9},
            intermediate=((0, 1.0), (1, 0.5)),
            finished_at=12.5,
        )
        storage.save_trial("s", done)
        storage = self.reopen(storage, tmp_path)
        trials = storage.trials("s")
        assert [t.number for t in trials] == [0, 1]
        assert trials[1] == done and trials[1].duration == 2.5

    def test_unknown_study_is_an_error(self, tmp_path: Path) -> None:
        storage = self.make_storage(tmp_path)
        with pytest.raises(StorageError):
            storage.save_trial("nope", TrialRecord(0, {}))
