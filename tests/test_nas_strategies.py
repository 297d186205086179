"""The NAS strategies: the REINFORCE controller (any categorical space) and PNAS (cell spaces)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sweepml  # noqa: E402
from sweepml.nas.controller import Reinforce  # noqa: E402
from sweepml.nas.pnas import PNAS, canonical_cell, cell_blocks  # noqa: E402
from sweepml.nas.spaces import pnas_space  # noqa: E402
from sweepml.space import Choice, Const, Float, Space  # noqa: E402
from sweepml.strategies import Outcome, Suggestion, make_strategy, strategy_names  # noqa: E402
from sweepml.strategies import base as strategy_base  # noqa: E402
from sweepml.testing import StrategyConformance  # noqa: E402
from sweepml.trial import TrialStatus  # noqa: E402


def categorical_space() -> Space:
    """The conformance suite's toy loss on a categorical space, with a condition and a Const."""
    return Space(
        {
            "model": Choice({"linear": None, "tree": {"depth": Choice([2, 4, 8])}, "net": None}),
            "x": Choice([0.0, 0.25, 0.5, 0.75, 1.0]),
            "lr": Choice([1e-4, 1e-3, 1e-2, 1e-1]),
            "tag": Const("v1"),
        }
    )


class TestReinforce(StrategyConformance):
    def make_strategy(self):
        return Reinforce()

    def make_space(self):
        return categorical_space()


def test_the_nas_strategies_are_found_by_name_without_importing_them_up_front():
    assert {"reinforce", "pnas"} <= set(strategy_names())
    assert isinstance(make_strategy("reinforce"), Reinforce)
    assert isinstance(make_strategy("pnas"), PNAS)


def test_a_plugin_whose_extra_is_missing_names_the_extra(monkeypatch):
    class Broken:
        def load(self):
            raise ImportError("No module named 'torch'")

    monkeypatch.setitem(strategy_base._PLUGINS, "needs_torch", Broken())
    with pytest.raises(sweepml.InvalidParameterError, match=r"needs a package.*sweepml\[nas\]"):
        make_strategy("needs_torch")


def test_reinforce_rejects_numeric_parameters_with_the_alternatives():
    strategy = Reinforce()
    with pytest.raises(sweepml.InvalidParameterError, match="'lr' is Float.*'evolution'"):
        strategy.bind(Space({"lr": Float(1e-4, 1e-1, log=True)}), 0)
    with pytest.raises(sweepml.InvalidParameterError, match="baseline_decay"):
        Reinforce(baseline_decay=1.0)


def test_reinforce_learns_a_categorical_target_faster_than_random():
    space = Space({f"x{i}": Choice(list(range(6))) for i in range(8)})
    target = [3, 1, 4, 1, 5, 2, 0, 5]

    def distance(config):
        return sum(abs(config[f"x{i}"] - t) for i, t in enumerate(target))

    def top5(strategy):
        study = sweepml.minimize(distance, space, strategy=strategy, n_trials=150, seed=0,
                                 show_progress=False)  # fmt: skip
        return np.mean(sorted(t.value for t in study.trials)[:5])

    assert top5("reinforce") < top5("random") - 2

    def decisions_learned(seed):
        learned = Reinforce()
        learned.bind(space, seed)
        for _ in range(150):
            suggestion = learned.ask()
            learned.tell(suggestion, Outcome(TrialStatus.OK, distance(suggestion.config)))
        probabilities = learned.probabilities()
        return sum(np.argmax(probabilities[f"x{i}"]) == t for i, t in enumerate(target))

    # chance is 8/6 of the 8 decisions; one seed may be unlucky, three on average are not
    assert np.mean([decisions_learned(seed) for seed in range(3)]) >= 5


def test_reinforce_scores_failures_as_the_worst_result_and_ignores_crashes():
    strategy = Reinforce()
    strategy.bind(categorical_space(), 0)
    first = strategy.ask()
    strategy.tell(first, Outcome(TrialStatus.FAILED))  # nothing to compare with yet: skipped
    assert strategy._n_rewards == 0
    strategy.tell(strategy.ask(), Outcome(TrialStatus.OK, 2.0))
    strategy.tell(strategy.ask(), Outcome(TrialStatus.MEMOUT))
    strategy.tell(strategy.ask(), Outcome(TrialStatus.CRASHED))
    assert strategy._n_rewards == 2 and strategy._reward_mean == -2.0


# -- PNAS ------------------------------------------------------------------------------------


def cell_loss(config):
    """Toy: separable 3x3 convolutions are good, more blocks are better, noise-free."""
    blocks = cell_blocks(config)
    ops = [config[f"cell{k}_op{j}"] for k in range(blocks) for j in (1, 2)]
    return -(ops.count("sep_conv_3x3") + 0.5 * ops.count("sep_conv_5x5")) / 2 - 0.1 * blocks


def run(strategy, n):
    asked = []
    for _ in range(n):
        suggestion = strategy.ask()
        if suggestion is None:
            break
        asked.append(suggestion)
        strategy.tell(suggestion, Outcome(TrialStatus.OK, cell_loss(suggestion.config)))
    return asked


def test_pnas_grows_cells_level_by_level_and_waits_for_each_level():
    strategy = PNAS(beam=4, ensemble=2)
    strategy.bind(pnas_space(3), 0)
    level1 = [strategy.ask() for _ in range(4)]
    assert [cell_blocks(s.config) for s in level1] == [1, 1, 1, 1]
    assert strategy.ask() is None  # level 2 is planned from level 1's results
    for suggestion in level1:
        strategy.tell(suggestion, Outcome(TrialStatus.OK, cell_loss(suggestion.config)))
    rest = run(strategy, 12)
    assert [cell_blocks(s.config) for s in rest] == [2] * 4 + [3] * 4 + [3] * 4
    assert [s.info["level"] for s in rest] == [2] * 4 + [3] * 4 + [4] * 4
    keys = [tuple(sorted(canonical_cell(s.config).items())) for s in level1 + rest]
    assert len(set(keys)) == len(keys)  # never the same cell twice
    for suggestion in rest[4:]:  # full cells are configs of the space
        pnas_space(3).validate(suggestion.config)


def test_pnas_is_repeatable_and_a_replayed_study_continues_the_same_plan():
    def asked(seed, n):
        strategy = PNAS(beam=5, ensemble=2)
        strategy.bind(pnas_space(2), seed)
        return [s.config for s in run(strategy, n)]

    assert asked(3, 15) == asked(3, 15)
    full = asked(3, 15)
    rebuilt = PNAS(beam=5, ensemble=2)
    rebuilt.bind(pnas_space(2), 3)
    for config in full[:8]:  # the history of an interrupted search, levels 1 and part of 2
        info = {"level": 1 if cell_blocks(config) == 1 else 2}
        rebuilt.tell(Suggestion(config, info=info), Outcome(TrialStatus.OK, cell_loss(config)))
    assert [s.config for s in run(rebuilt, 7)] == full[8:]


def test_pnas_finds_better_cells_than_random_on_the_toy():
    def best5(strategy):
        study = sweepml.minimize(cell_loss, pnas_space(3), strategy=strategy, n_trials=45,
                                 seed=0, show_progress=False)  # fmt: skip
        return np.mean(sorted(t.value for t in study.trials)[:5])

    assert best5(PNAS(beam=15, ensemble=3)) < best5("random") - 0.3


def test_pnas_needs_a_cell_space_and_counts_failures_toward_a_level():
    with pytest.raises(sweepml.InvalidParameterError, match="pnas_space"):
        PNAS().bind(Space({"x": Choice([1, 2])}), 0)
    strategy = PNAS(beam=3, ensemble=1)
    strategy.bind(pnas_space(2), 0)
    level1 = [strategy.ask() for _ in range(3)]
    strategy.tell(level1[0], Outcome(TrialStatus.FAILED))
    for suggestion in level1[1:]:
        strategy.tell(suggestion, Outcome(TrialStatus.OK, cell_loss(suggestion.config)))
    nxt = strategy.ask()
    assert nxt is not None and cell_blocks(nxt.config) == 2
    retried = strategy.retry(level1[0])
    assert retried.id is not None and retried in strategy.pending
