"""benchmarks/tabular_suite.py: ranks, win/tie/loss, regression flags, resume and refusals."""

from __future__ import annotations

import json

import pytest
from benchmark_scripts import ROOT, load_script

suite = load_script("tabular_suite", "benchmarks/tabular_suite.py")
SETTLE = suite.settle  # the real one; the fixture below stands in for it elsewhere


@pytest.fixture(autouse=True)
def _quiet_machine(monkeypatch):
    """The suite waits for idle CPUs before each fit; these tests fit nothing real."""
    monkeypatch.setattr(suite, "settle", lambda jobs: 2.0)
    monkeypatch.setattr(suite, "idle_cpus", lambda window: 2.0)


def rec(tool, table, value, *, task="binary", seed=0, commit="abc", **extra):
    metric = suite.PRIMARY[task]
    record = {
        "tool": tool,
        "table": table,
        "task": task,
        "seed": seed,
        metric: value,
        "error": None,
        "fit_seconds": 50.0,
        "budget_s": 60.0,
        "n_jobs": 2,
        "busy": 0,
        "commit": commit,
        "split_sha": f"sha-{table}",
        "fingerprint": f"fp-{table}",
        "split_id": "s1",
    }
    record.update(extra)
    return record


def test_ranks_share_ties_within_the_seed_spread():
    cells = {
        "sweepml": suite.Cell([0.90, 0.92], 0, [50]),  # spread 0.02
        "flaml": suite.Cell([0.915], 0, [50]),  # within the spread: a tie
        "lightgbm": suite.Cell([0.80], 0, [1]),
        "tpot": suite.Cell([], 1, [70]),
    }
    assert suite.ranks("binary", cells) == {
        "sweepml": 1.0,
        "flaml": 1.0,
        "lightgbm": 3.0,
        "tpot": 4.0,
    }


def test_lower_is_better_for_log_loss_and_rmse():
    cells = {"a": suite.Cell([10.0], 0, []), "b": suite.Cell([12.0], 0, [])}
    assert suite.ranks("regression", cells) == {"a": 1.0, "b": 2.0}


def test_report_counts_wins_ties_losses_and_slow_fits():
    records = [
        rec("sweepml", "t1", 0.95),
        rec("lightgbm", "t1", 0.90),
        rec("sweepml", "t2", 0.80, fit_seconds=70.0),
        rec("lightgbm", "t2", 0.8005),
        rec("sweepml", "t3", 1.0, task="regression"),
        rec("lightgbm", "t3", 0.5, task="regression"),
        rec("sweepml", "t4", None, task="multiclass", error="Boom"),
        rec("lightgbm", "t4", 0.3, task="multiclass"),
    ]
    text = suite.report(records)
    assert "- lightgbm: 1 / 1 / 2" in text
    assert (
        "below lightgbm defaults by more than noise: t4 (failed against 0.3), t3 (1 against 0.5)"
        in text
    )
    assert "sweepml on t2: 70 s" in text
    assert "| t4 | multiclass | log_loss | fail |" in text


def test_compare_flags_tables_worse_than_their_spread():
    old = [rec("sweepml", "t1", v, seed=s) for s, v in enumerate([0.90, 0.91, 0.92])]
    old += [rec("sweepml", "t2", v, seed=s) for s, v in enumerate([0.80, 0.81, 0.82])]
    new = [rec("sweepml", "t1", v, seed=s, commit="def") for s, v in enumerate([0.90, 0.91, 0.93])]
    new += [rec("sweepml", "t2", v, seed=s, commit="def") for s, v in enumerate([0.70, 0.71, 0.72])]
    text, worse = suite.compare(new, old, tool="sweepml")
    assert worse == 1
    assert "| t2 | roc_auc |" in text and "WORSE" in text
    assert "t1 | roc_auc | 0.91 | 0.91333" in text and "same" in text


def test_compare_refuses_other_splits_contents_and_budgets():
    old = [rec("sweepml", "t1", 0.9)]
    for change, word in (
        ({"split_sha": "other"}, "test rows"),
        ({"fingerprint": "other"}, "table contents"),
        ({"split_id": "s2"}, "corpus split"),
        ({"budget_s": 30.0}, "budget_s"),
        ({"busy": 2}, "busy"),
    ):
        with pytest.raises(suite.SuiteError, match=word):
            suite.compare([rec("sweepml", "t1", 0.9, **change)], old, tool="sweepml")


def test_a_killed_run_resumes_without_repeating_finished_fits(tmp_path, monkeypatch):
    tables = [suite.Table("t1", tmp_path, "public"), suite.Table("t2", tmp_path, "public")]
    calls = []

    def fake_fit(tool, table, seed, **_):
        calls.append((tool, table.name, seed))
        return {"task": "binary", "roc_auc": 0.9, "error": None, "fit_seconds": 1.0}

    monkeypatch.setattr(suite, "fit", fake_fit)
    monkeypatch.setattr(suite, "git_commit", lambda: ("abc", False))
    monkeypatch.setattr(suite, "check_corpus_fingerprints", lambda ts: {t.name: "fp" for t in ts})
    out = tmp_path / "run.jsonl"
    finished = {
        "tool": "sweepml",
        "table": "t1",
        "seed": 0,
        "budget_s": 60.0,
        "n_jobs": 2,
        "busy": 0,
        "commit": "abc",
        "task": "binary",
        "roc_auc": 0.9,
        "error": None,
    }
    failed_to_start = dict(finished, seed=1, error="no result", suite_failure=True)
    out.write_text(json.dumps(finished) + "\n" + json.dumps(failed_to_start) + '\n{"tool": "swe')
    suite.run_suite(
        tables,
        ["sweepml"],
        [0, 1],
        out,
        budget=60,
        jobs=2,
        busy=0,
        python="python",
        peers_dir=None,
        log=lambda *_: None,
    )
    assert calls == [("sweepml", "t1", 1), ("sweepml", "t2", 0), ("sweepml", "t2", 1)]


def test_a_run_file_holds_one_commit(tmp_path, monkeypatch):
    out = tmp_path / "run.jsonl"
    out.write_text(json.dumps(rec("sweepml", "t1", 0.9, commit="old")) + "\n")
    monkeypatch.setattr(suite, "git_commit", lambda: ("new", False))
    with pytest.raises(suite.SuiteError, match="new --out file"):
        suite.run_suite(
            [], ["sweepml"], [0], out, budget=60, jobs=2, busy=0, python="python", peers_dir=None
        )


def test_unknown_tables_and_tools_are_refused_in_flag_terms(capsys):
    assert suite.main(["run", "--set", "nope", "--out", "x.jsonl"]) == 2
    assert "--set: ['nope']" in capsys.readouterr().err
    assert suite.main(["run", "--tools", "weka", "--out", "x.jsonl"]) == 2
    assert "--tools: unknown ['weka']" in capsys.readouterr().err


def test_the_named_sets_resolve():
    public = suite.resolve_set("public")
    assert [t.name for t in public] == list(suite.PUBLIC)
    meta_test = suite.resolve_set("meta-test")
    assert len(meta_test) >= 30 and {t.split for t in meta_test} == {"meta-test"}
    assert len(suite.resolve_set("all")) == len(public) + len(meta_test)


# ---------------------------------------------------------------- portfolio learning
portfolio = load_script("learn_portfolio", "benchmarks/learn_portfolio.py")


def test_losses_are_normalised_per_table_and_failures_count_as_worst():
    import numpy as np

    inf = float("inf")
    matrix = {
        "a": {0: (0.1, 1.0), 1: (0.15, 1.0), 2: (0.2, 1.0), 3: (0.3, 1.0), 4: (inf, 20.0)},
        "b": {0: (5.0, 1.0), 1: (1.0, 1.0), 2: (3.0, 1.0)},  # 3 and 4 not scored here
    }
    losses, seconds, tables = portfolio.normalised(matrix, [0, 1, 2, 3, 4])
    assert tables == ["a", "b"]
    # 0 is the table's best, 1 its median or worse (finite losses: 0.1 0.15 0.2 0.3)
    assert np.allclose(losses[:, 0], [0.0, 2 / 3, 1.0, 1.0, 1.0])
    assert np.allclose(losses[:, 1], [1.0, 0.0, 1.0, 1.0, 1.0])


def test_greedy_picks_complementary_configs_and_stops_when_nothing_helps():
    import numpy as np

    losses = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.6, 0.6, 0.6]])
    seconds = np.ones_like(losses)
    assert portfolio.greedy(losses, seconds, size=10) == [2, 0, 1]
    assert portfolio.greedy(losses, seconds, size=1) == [2]


def test_leave_tables_out_scores_only_held_out_tables():
    import numpy as np

    rng = np.random.default_rng(0)
    losses = rng.uniform(size=(12, 10))
    result = portfolio.leave_tables_out(losses, np.ones_like(losses), [0, 1], size=4)
    assert set(result) == {"portfolio_4", "portfolio_8", "portfolio_all", "defaults", "both"}
    assert result["both"] <= min(result["portfolio_all"], result["defaults"]) + 1e-12
    families = ["a", "b", "c"] * 4
    learned = portfolio.leave_tables_out(
        losses, np.ones_like(losses), [0, 1, 2], size=4, families=families
    )
    assert {"learned_defaults", "both_learned"} <= set(learned)
    assert learned["both_learned"] <= learned["portfolio_all"] + 1e-12


def test_a_family_default_is_relearned_as_its_best_row_on_average():
    import numpy as np

    losses = np.array([[0.5, 0.5], [0.2, 0.4], [0.9, 0.0], [0.3, 0.3], [0.3, 0.3]])
    families = ["lightgbm", "lightgbm", "lightgbm", "knn", "knn"]
    # lightgbm: row 1 (mean 0.3) beats row 0 (0.5) and row 2 (0.45); knn: a tie keeps row 3
    assert portfolio.learned_defaults(losses, families) == [3, 1]


def test_candidates_are_fixed_and_cover_every_family():
    data = json.loads((ROOT / "benchmarks" / "portfolio" / "candidates.json").read_text())
    from sweepml.tabular.components import MODELS

    for task in ("classification", "regression"):
        entries = data[task]
        assert [e["id"] for e in entries] == list(range(len(entries)))
        assert {e["config"]["model"] for e in entries} == set(MODELS)
        assert sum(e["source"] == "default" for e in entries) == len(MODELS)


def test_fits_made_on_a_busy_machine_can_be_redone_and_the_redo_counts(tmp_path, monkeypatch):
    tables = [suite.Table("t1", tmp_path, "public"), suite.Table("t2", tmp_path, "public")]
    monkeypatch.setattr(suite, "git_commit", lambda: ("abc", False))
    monkeypatch.setattr(suite, "check_corpus_fingerprints", lambda ts: {t.name: "fp" for t in ts})
    monkeypatch.setattr(
        suite, "fit", lambda *a, **k: {"task": "binary", "roc_auc": 0.9, "error": None,
                                       "load1_before": 0.5}
    )  # fmt: skip
    out = tmp_path / "run.jsonl"
    busy = rec("sweepml", "t1", 0.7, load1_before=4.0, budget_s=60.0)
    quiet = rec("sweepml", "t2", 0.8, load1_before=1.0, budget_s=60.0)
    out.write_text(json.dumps(busy) + "\n" + json.dumps(quiet) + "\n")
    records = suite.run_suite(tables, ["sweepml"], [0], out, budget=60, jobs=2, busy=0,
                              python="python", peers_dir=None, redo_above_load=3.0,
                              log=lambda *_: None)  # fmt: skip
    assert len(records) == 3
    _, cells = suite.collect(records)
    assert cells[("t1", "sweepml")].values == [0.9] and cells[("t2", "sweepml")].values == [0.8]


def test_a_fit_waits_for_idle_cpus_and_the_record_says_how_busy_the_machine_was(
    tmp_path, monkeypatch
):
    readings = iter([0.2, 0.9, 1.8])
    monkeypatch.setattr(suite, "idle_cpus", lambda window: next(readings))
    monkeypatch.setattr(suite, "CPUS", 2)
    assert SETTLE(2) == 1.8  # 0.2 and 0.9 idle CPUs: it waited; 1.8 of 2: quiet enough

    tables = [suite.Table("t1", tmp_path, "public")]
    monkeypatch.setattr(suite, "git_commit", lambda: ("abc", False))
    monkeypatch.setattr(suite, "check_corpus_fingerprints", lambda ts: {t.name: "fp" for t in ts})
    monkeypatch.setattr(suite, "settle", lambda jobs: 1.5)
    monkeypatch.setattr(
        suite, "fit", lambda *a, **k: {"task": "binary", "roc_auc": 0.9, "error": None,
                                       "load1_before": 2.9}
    )  # fmt: skip
    out = tmp_path / "run.jsonl"
    records = suite.run_suite(tables, ["sweepml"], [0], out, budget=60, jobs=2, busy=0,
                              python="python", peers_dir=None, log=lambda *_: None)  # fmt: skip
    assert records[0]["busy_cpus_before"] == 0.5
    # the CPUs busy before the fit decide a redo, not the 1-minute load the previous fit left
    assert suite.load_before(records[0]) == 0.5
    assert suite.load_before({"load1_before": 2.9}) == 2.9


def test_a_run_stops_when_the_working_tree_changes_under_it(tmp_path, monkeypatch):
    tables = [suite.Table("t1", tmp_path, "public"), suite.Table("t2", tmp_path, "public")]
    states = iter(["head:clean", "head:clean", "head:edited"])
    monkeypatch.setattr(suite, "tree_state", lambda: next(states))
    result = {"task": "binary", "roc_auc": 0.9, "error": None, "fit_seconds": 1.0}
    monkeypatch.setattr(suite, "fit", lambda *a, **k: dict(result))
    monkeypatch.setattr(suite, "git_commit", lambda: ("abc", False))
    monkeypatch.setattr(suite, "check_corpus_fingerprints", lambda ts: {t.name: "fp" for t in ts})
    out = tmp_path / "run.jsonl"
    with pytest.raises(suite.SuiteError, match="working tree changed since this run started"):
        suite.run_suite(tables, ["sweepml"], [0], out, budget=60, jobs=2, busy=0,
                        python="python", peers_dir=None, log=lambda *_: None)  # fmt: skip
    assert [r["table"] for r in suite.read_records(out)] == ["t1"]  # the finished fit is kept
