"""Set sweepml's results from ../shared/bench/run.py beside the peers' (PEERS.md), with ranks.

    python benchmarks/bench_table.py RUN.jsonl [MORE.jsonl ...] [--peers ../shared/bench/PEERS.md]

Prints a Markdown table: primary test metric (fit seconds) per tool and dataset, then the mean rank
over all datasets and per task type (a failure ranks last; ties share the better rank). With
several runs of a dataset (seeds, files), sweepml's cell is the median of their metrics and the
longest of their fit times; a failed run counts as the worst.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from pathlib import Path

PRIMARY = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc"}


def read_peers(path: Path) -> tuple[list[str], dict[str, dict]]:
    tools: list[str] = []
    rows: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:3] == ["dataset", "task", "metric"]:
            tools = cells[3:]
        elif tools and len(cells) == 3 + len(tools) and not cells[0].startswith("---"):
            values = {}
            for tool, cell in zip(tools, cells[3:]):
                match = re.match(r"([-\d.e]+) \((\d+)s\)", cell)
                values[tool] = (float(match[1]), float(match[2])) if match else None
            rows[cells[0]] = {"task": cells[1], "metric": cells[2], "values": values}
    return tools, rows


def median_run(runs: list[tuple[float, float] | None], higher: bool) -> tuple[float, float] | None:
    """The median metric of ``runs`` (a failure counts as the worst; the lower middle of an
    even count) with the longest fit time; None when the median run failed."""
    worst = -math.inf if higher else math.inf
    values = sorted((run[0] if run else worst for run in runs), reverse=higher)
    middle = values[(len(values) - 1) // 2]
    if math.isinf(middle):
        return None
    return middle, max(run[1] for run in runs if run)


def ranks(values: dict[str, tuple[float, float] | None], higher: bool) -> dict[str, float]:
    ok = {t: v[0] for t, v in values.items() if v is not None}
    order = sorted(ok, key=lambda t: -ok[t] if higher else ok[t])
    out: dict[str, float] = {}
    for tool in order:
        better = sum(
            1 for other in ok if (ok[other] > ok[tool] if higher else ok[other] < ok[tool])
        )
        out[tool] = better + 1
    for tool in values:
        out.setdefault(tool, float(len(values)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument(
        "--peers", default=str(Path(__file__).parents[1] / "../shared/bench/PEERS.md")
    )
    args = parser.parse_args()
    tools, peers = read_peers(Path(args.peers))
    runs: dict[str, list[tuple[float, float] | None]] = {}
    higher: dict[str, bool] = {}
    for path in args.results:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            metric = PRIMARY[record["task"]]
            run = (record[metric], record["fit_seconds"]) if metric in record else None
            runs.setdefault(record["dataset"], []).append(run)
            higher[record["dataset"]] = metric in HIGHER_IS_BETTER
    ours = {dataset: median_run(found, higher[dataset]) for dataset, found in runs.items()}
    all_tools = ["sweepml", *tools]
    print("| dataset | task | metric | " + " | ".join(all_tools) + " |")
    print("|---|---|---|" + "---|" * len(all_tools))
    by_task: dict[str, list[dict[str, float]]] = {}
    for dataset, row in peers.items():
        if dataset not in ours:
            continue
        values = {"sweepml": ours[dataset], **row["values"]}
        cells = [f"{v[0]:.4g} ({v[1]:.0f}s)" if v else "fail" for v in values.values()]
        print(f"| {dataset} | {row['task']} | {row['metric']} | " + " | ".join(cells) + " |")
        by_task.setdefault(row["task"], []).append(ranks(values, row["metric"] in HIGHER_IS_BETTER))
    print()
    print("| mean rank | " + " | ".join(all_tools) + " |")
    print("|---|" + "---|" * len(all_tools))
    groups = {"all": [r for rs in by_task.values() for r in rs], **by_task}
    for name, group in groups.items():
        means = [statistics.mean(r[t] for r in group) for t in all_tools]
        print(f"| {name} ({len(group)}) | " + " | ".join(f"{m:.2f}" for m in means) + " |")


if __name__ == "__main__":
    main()
