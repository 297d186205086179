import numpy as np
import pytest

import sweepml
from sweepml.exceptions import InvalidConfigError, InvalidParameterError
from sweepml.space import Choice, Float, Int, Space
from sweepml.strategies import (
    ASHA,
    BOHB,
    CMAES,
    TPE,
    GridSearch,
    Hyperband,
    Outcome,
    RandomSearch,
    RegularizedEvolution,
    SuccessiveHalving,
    Suggestion,
    Warmstart,
    make_strategy,
    strategy_names,
)
from sweepml.strategies.evolution import mutate
from sweepml.testing import StrategyConformance
from sweepml.testing.conformance import conditional_space
from sweepml.trial import TrialStatus


class TestRandom(StrategyConformance):
    def make_strategy(self):
        return RandomSearch()


class TestGrid(StrategyConformance):
    def make_strategy(self):
        return GridSearch(numeric_points=3)


class TestGridFraction(StrategyConformance):
    def make_strategy(self):
        return GridSearch(numeric_points=3, fraction=0.3)


class TestTPE(StrategyConformance):
    def make_strategy(self):
        return TPE(n_startup_trials=5)


class TestCMAES(StrategyConformance):
    # CMA-ES's mean and covariance live in a pickled optimizer that the record does not keep
    # (unpickling from a storage file would run code from it): a resumed CMA-ES starts a new CMA
    # run, so it continues without repeats, not with the same configs.
    resumes_exactly = False

    def make_strategy(self):
        return CMAES()


class TestEvolution(StrategyConformance):
    def make_strategy(self):
        return RegularizedEvolution(population_size=8, sample_size=3)


def test_registry_lists_builtins_and_rejects_unknown_names():
    assert {"random", "grid", "tpe", "cmaes", "evolution"} <= set(strategy_names())
    expected = r"must be one of \[.*'tpe'\] or a Strategy instance; got 'tpee'"
    with pytest.raises(InvalidParameterError, match=expected):
        make_strategy("tpee")


def test_make_strategy_copies_instances_and_refuses_bound_ones():
    proto = TPE(n_startup_trials=3)
    made = make_strategy(proto)
    assert made is not proto and made.n_startup_trials == 3
    made.bind(conditional_space(), 0)
    with pytest.raises(InvalidParameterError, match="unbound"):
        make_strategy(made)


def test_grid_runs_every_point_once_then_finishes():
    space = Space({"a": Choice([1, 2, 3]), "b": Int(0, 3)})
    grid = GridSearch()
    grid.bind(space, 0)
    seen = []
    while (s := grid.ask()) is not None:
        seen.append((s.config["a"], s.config["b"]))
        grid.tell(s, Outcome(TrialStatus.OK, 0.0))
    assert sorted(seen) == [(a, b) for a in (1, 2, 3) for b in range(4)]
    assert grid.finished


def test_grid_fraction_downsamples_like_talos():
    space = Space({"a": Choice(list(range(4))), "b": Choice(list(range(4)))})
    grid = GridSearch(fraction=0.5)
    grid.bind(space, 1)
    assert grid.size == 8


def test_grid_interrupted_point_is_run_again():
    grid = GridSearch()
    grid.bind(Space({"a": Choice([1, 2])}), 0)
    first = grid.ask()
    grid.tell(first, Outcome(TrialStatus.INTERRUPTED))
    again = grid.ask()
    assert again.config == first.config


@pytest.mark.parametrize("bad", [{"fraction": 0}, {"fraction": 1.5}, {"numeric_points": 0}])
def test_grid_rejects_bad_arguments(bad):
    with pytest.raises(InvalidParameterError, match="GridSearch"):
        GridSearch(**bad)


def test_evolution_rejects_sample_larger_than_population():
    with pytest.raises(InvalidParameterError, match="sample_size"):
        RegularizedEvolution(population_size=4, sample_size=5)


def test_mutation_changes_exactly_one_active_parameter_when_no_branch_changes():
    space = Space({"x": Float(0, 1), "n": Int(1, 10), "c": Choice(["a", "b", "c"])})
    rng = np.random.default_rng(0)
    parent = {"x": 0.5, "n": 5, "c": "a"}
    for _ in range(50):
        child = mutate(space, parent, rng)
        space.validate(child)
        assert sum(child[k] != parent[k] for k in parent) == 1


def test_mutation_of_a_conditional_choice_resamples_the_new_branch():
    space = conditional_space()
    rng = np.random.default_rng(1)
    parent = {"x": 0.0, "lr": 0.01, "model": "linear", "tag": "v1"}
    children = [mutate(space, parent, rng) for _ in range(60)]
    for child in children:
        space.validate(child)
    assert any(child["model"] == "tree" and "depth" in child for child in children)


def test_evolution_keeps_only_the_youngest_population():
    evo = RegularizedEvolution(population_size=3, sample_size=2)
    evo.bind(Space({"x": Float(0, 1)}), 0)
    for i in range(5):
        s = evo.ask()
        evo.tell(s, Outcome(TrialStatus.OK, float(i)))
    assert [loss for _, loss in evo._population] == [2.0, 3.0, 4.0]


def test_tpe_learns_a_conditional_space():
    def objective(config):
        if config["model"] == "linear":
            return 1.0 + config["x"] ** 2
        return abs(config["units"] - 200) / 100 + config["x"] ** 2

    space = Space(
        {"x": Float(-1, 1), "model": Choice({"linear": None, "net": {"units": Int(8, 256)}})}
    )
    study = sweepml.minimize(
        objective, space, strategy=TPE(n_startup_trials=10), n_trials=60, seed=0
    )
    assert study.best.config["model"] == "net" and study.best.value < 0.3


class TestWarmstart(StrategyConformance):
    def make_strategy(self):
        space = conditional_space()
        return Warmstart("tpe", [space.default(), {**space.default(), "x": 1.5}])


def test_warmstart_proposes_its_configs_first_then_informs_the_base():
    space = Space({"x": Float(-1, 1)})
    warm = Warmstart(TPE(n_startup_trials=2), [{"x": 0.25}, {"x": -0.5}])
    warm.bind(space, 0)
    first = [warm.ask() for _ in range(2)]
    assert [s.config for s in first] == [{"x": 0.25}, {"x": -0.5}]
    for s in first:
        warm.tell(s, Outcome(TrialStatus.OK, abs(s.config["x"])))
    assert len(warm._base._study.trials) == 2  # the base saw both results
    nxt = warm.ask()
    space.validate(nxt.config)


def test_warmstart_skips_configs_already_in_the_history_and_checks_them():
    space = Space({"x": Float(-1, 1)})
    warm = Warmstart("random", [{"x": 0.25}, {"x": -0.5}])
    warm.bind(space, 0)
    warm.tell(Suggestion({"x": 0.25}), Outcome(TrialStatus.OK, 0.25))
    assert warm.ask().config == {"x": -0.5}
    bad = Warmstart("random", [{"x": 3.0}])
    with pytest.raises(InvalidConfigError, match=r"Warm-start config 0: .*'x' must be a float"):
        bad.bind(space, 0)


class TestASHA(StrategyConformance):
    def make_strategy(self):
        return ASHA("random", min_budget=1, max_budget=9, eta=3)


def test_asha_promotes_the_top_third_of_each_rung():
    strategy = ASHA("random", min_budget=1, max_budget=9, eta=3)
    assert strategy.budgets == [1.0, 3.0, 9.0]
    strategy.bind(Space({"x": Float(0.0, 1.0)}), seed=0)
    asked = []
    for _ in range(13):
        suggestion = strategy.ask()
        asked.append((suggestion.budget, suggestion.info["rung"]))
        strategy.tell(suggestion, Outcome(TrialStatus.OK, suggestion.config["x"]))
    # rung 0 gets three configs, then its best is promoted; after nine, the best of rung 1
    assert asked[:4] == [(1.0, 0), (1.0, 0), (1.0, 0), (3.0, 1)]
    assert (9.0, 2) in asked
    promoted = [b for b, _ in asked if b > 1]
    assert len(promoted) == 13 - sum(1 for b, _ in asked if b == 1)


def test_asha_rebuilds_its_rungs_from_replayed_history():
    space = Space({"x": Float(0.0, 1.0)})
    first = ASHA("random", min_budget=1, max_budget=9, eta=3)
    first.bind(space, seed=0)
    history = []
    for _ in range(5):
        suggestion = first.ask()
        history.append((suggestion, Outcome(TrialStatus.OK, suggestion.config["x"])))
        first.tell(*history[-1])
    replayed = ASHA("random", min_budget=1, max_budget=9, eta=3)
    replayed.bind(space, seed=0)
    for suggestion, outcome in history:
        replayed.tell(Suggestion(suggestion.config, None, suggestion.budget, suggestion.info),
                      outcome)  # fmt: skip
    assert first._promotion() == replayed._promotion()
    assert replayed._rungs == first._rungs


def test_a_budgeted_strategy_needs_an_objective_with_a_budget_parameter():
    space = Space({"x": Float(0.0, 1.0)})
    with pytest.raises(InvalidParameterError, match="has no 'budget' parameter"):
        sweepml.minimize(lambda c: c["x"], space, strategy="asha", n_trials=3, seed=0)
    study = sweepml.minimize(
        lambda c, budget: c["x"] / budget, space, strategy="asha", n_trials=20, seed=0
    )
    assert {t.budget for t in study.trials} >= {1 / 9, 1 / 3}


class TestHyperband(StrategyConformance):
    def make_strategy(self):
        return Hyperband("random", min_budget=1, max_budget=9, eta=3)


class TestSuccessiveHalving(StrategyConformance):
    def make_strategy(self):
        return SuccessiveHalving("random", min_budget=1, max_budget=9, eta=3)


class TestBOHB(StrategyConformance):
    n_trials = 40

    def make_strategy(self):
        return BOHB(min_budget=1, max_budget=9, eta=3)


def _serve(strategy, n, loss=lambda s: s.config["x"] / s.budget):
    """Ask and tell n times in order (one worker); the (budget, bracket, rung) of each ask."""
    asked = []
    for _ in range(n):
        suggestion = strategy.ask()
        asked.append((suggestion.budget, suggestion.info["bracket"], suggestion.info["rung"]))
        strategy.tell(suggestion, Outcome(TrialStatus.OK, loss(suggestion)))
    return asked


def test_hyperband_runs_li_et_al_brackets_in_turn():
    strategy = Hyperband("random", min_budget=1, max_budget=9, eta=3)
    assert strategy.brackets == [([1, 3, 9], [9, 3, 1]), ([3, 9], [5, 1]), ([9], [3])]
    strategy.bind(Space({"x": Float(0.0, 1.0)}), seed=0)
    asked = _serve(strategy, 9 + 3 + 1 + 5 + 1 + 3 + 1)
    assert [b for b, _, _ in asked[:13]] == [1] * 9 + [3] * 3 + [9]
    assert [b for b, _, _ in asked[13:19]] == [3] * 5 + [9]
    assert [b for b, _, _ in asked[19:22]] == [9] * 3
    assert asked[-1][1] == 3  # the cycle starts again with the most aggressive bracket


def test_successive_halving_promotes_the_best_third_once_the_rung_is_full():
    strategy = SuccessiveHalving("random", min_budget=1, max_budget=9, eta=3)
    strategy.bind(Space({"x": Float(0.0, 1.0)}), seed=0)
    rung0 = [strategy.ask() for _ in range(9)]
    assert strategy.ask().info["bracket"] == 1  # rung 0 waits: the next bracket gives work
    for suggestion in rung0:
        strategy.tell(suggestion, Outcome(TrialStatus.OK, suggestion.config["x"]))
    promoted = strategy.ask()
    best3 = sorted(s.config["x"] for s in rung0)[:3]
    assert promoted.budget == 3 and promoted.config["x"] == best3[0]


def test_hyperband_never_promotes_failed_trials():
    strategy = SuccessiveHalving("random", min_budget=1, max_budget=9, eta=3)
    strategy.bind(Space({"x": Float(0.0, 1.0)}), seed=0)
    for k in range(9):
        suggestion = strategy.ask()
        ok = k == 0
        strategy.tell(suggestion, Outcome(TrialStatus.OK if ok else TrialStatus.FAILED, 0.5))
    promoted = strategy.ask()
    assert promoted.budget == 3 and promoted.info["bracket"] == 0
    strategy.tell(promoted, Outcome(TrialStatus.OK, 0.4))
    final = strategy.ask()
    assert final.budget == 9 and final.config == promoted.config


def test_hyperband_rebuilds_its_brackets_and_retries_in_place():
    space = Space({"x": Float(0.0, 1.0)})
    first = Hyperband("random", min_budget=1, max_budget=9, eta=3)
    first.bind(space, seed=0)
    history = []
    for _ in range(11):
        suggestion = first.ask()
        history.append((suggestion, Outcome(TrialStatus.OK, suggestion.config["x"])))
    for suggestion, outcome in history[:10]:
        first.tell(suggestion, outcome)
    interrupted = history[10][0]
    replayed = Hyperband("random", min_budget=1, max_budget=9, eta=3)
    replayed.bind(space, seed=0)
    for suggestion, outcome in history[:10]:
        replayed.tell(Suggestion(suggestion.config, None, suggestion.budget, suggestion.info),
                      outcome)  # fmt: skip
    again = replayed.retry(Suggestion(interrupted.config, None, interrupted.budget,
                                      interrupted.info))  # fmt: skip
    assert again.info["bracket"] == interrupted.info["bracket"]
    assert [b.results for b in replayed._brackets.values()] == [
        b.results for b in first._brackets.values()
    ]
    nxt = replayed.ask()
    assert nxt.budget == first.ask().budget


@pytest.mark.parametrize("cls", [Hyperband, SuccessiveHalving, ASHA, BOHB])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_budget": 9, "max_budget": 9}, "0 < min_budget < max_budget"),
        ({"min_budget": 10, "max_budget": 9}, "0 < min_budget < max_budget"),
        ({"min_budget": 0, "max_budget": 9}, "0 < min_budget < max_budget"),
        ({"min_budget": 1, "max_budget": 9, "eta": 1.5}, "'eta' parameter .* >= 2"),
    ],
)
def test_multi_fidelity_budget_ranges_are_checked(cls, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        cls(**kwargs)


def test_int_budgets_stay_whole_epochs():
    assert Hyperband(min_budget=5, max_budget=500, eta=3).budgets == [6, 19, 56, 167, 500]
    assert ASHA(min_budget=0.1, max_budget=1.0, eta=3).budgets == pytest.approx([1 / 9, 1 / 3, 1])


def test_bohb_proposes_from_the_largest_budget_with_enough_points():
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    strategy = BOHB(min_budget=1, max_budget=9, eta=3, random_fraction=0.0)
    strategy.bind(space, seed=0)
    proposer = strategy._base
    assert proposer.model_budget() is None
    loss = lambda s: (s.config["x"] - 0.2) ** 2 + (s.config["y"] - 0.7) ** 2  # noqa: E731
    _serve(strategy, 9 + 3, loss)  # rung 0 (9 at budget 1) and rung 1 (3 at budget 3)
    assert proposer.model_budget() == 1  # 9 points >= 2 params + 2; budget 3 has only 3
    later = [strategy.ask() for _ in range(30)]
    by_model = [s for s in later if s.info.get("proposed_by", "").startswith("tpe@")]
    assert by_model and all(s.info["proposed_by"] == "tpe@1" for s in by_model)


def test_bohb_beats_random_hyperband_on_a_smooth_problem():
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def loss(s):
        return (s.config["x"] - 0.2) ** 2 + (s.config["y"] - 0.7) ** 2 + 0.1 / s.budget

    finals = {}
    for name in ("hyperband", "bohb"):
        bests = []
        for seed in range(5):
            strategy = make_strategy(name)
            strategy.bind(space, seed)
            results = []
            for _ in range(120):
                s = strategy.ask()
                value = loss(s)
                strategy.tell(s, Outcome(TrialStatus.OK, value))
                if s.budget == strategy.budgets[-1]:
                    results.append(value)
            bests.append(min(results))
        finals[name] = np.median(bests)
    assert finals["bohb"] < finals["hyperband"]


@pytest.mark.parametrize("name", ["hyperband", "successive_halving", "bohb"])
def test_multi_fidelity_searches_record_each_trials_budget(name):
    space = Space({"x": Float(0.0, 1.0)})
    study = sweepml.minimize(
        lambda c, budget: c["x"] + 1 / budget, space, strategy=name, n_trials=40, seed=0
    )
    frame = study.to_dataframe()
    assert set(frame["budget"]) >= {1 / 27, 1 / 9, 1 / 3}
    assert (frame["budget"] > 0).all()


def test_a_resumed_hyperband_promotes_from_the_brackets_it_rebuilt(tmp_path):
    space = Space({"x": Float(0.0, 1.0)})
    strategy = SuccessiveHalving(min_budget=1, max_budget=9, eta=3)
    run = lambda n: sweepml.minimize(  # noqa: E731
        lambda c, budget: c["x"], space, strategy=strategy, n_trials=n, seed=0,
        storage=tmp_path / "s.db", study_name="sh",
    )  # fmt: skip
    first = run(9).trials
    resumed = run(12).trials[9:]
    best3 = sorted(t.config["x"] for t in first)[:3]
    assert [t.budget for t in resumed] == [3, 3, 3]
    assert sorted(t.config["x"] for t in resumed) == best3


def test_tpe_bounds_the_history_it_models_and_keeps_the_best():
    space = Space({"x": Float(-1.0, 1.0), "y": Float(-1.0, 1.0)})
    strategy = TPE(max_history=40)
    strategy.bind(space, seed=0)
    early = [strategy.ask() for _ in range(5)]  # asked before the rebuilds, told after
    history = []
    for _ in range(200):
        s = strategy.ask()
        loss = s.config["x"] ** 2 + s.config["y"] ** 2
        history.append(loss)
        strategy.tell(s, Outcome(TrialStatus.OK, loss))
    assert strategy._rebuilds >= 1
    modelled = [t.value for t in strategy._study.trials if t.value is not None]
    assert len(modelled) <= 60  # 1.5 x max_history
    assert min(history) in modelled  # the best trials stay in the model
    for s in early:
        strategy.tell(s, Outcome(TrialStatus.OK, 0.5))
    assert not strategy.pending
    space.validate(strategy.ask().config)
