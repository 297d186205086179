"""Throughput and latency of ``sweepml serve`` on loopback.

Two models of ``credit_data`` (``../shared/bench``'s training split): a single LightGBM pipeline
(``max_trials=1, ensemble_size=0``: LightGBM's defaults, the first config a fit tries) and the
ensemble a 60 s fit makes. Each is served with 1 and 2 workers; closed-loop clients (each sends
its next request when the answer to the last one arrives; ``--client-processes`` processes with
threads in them, so the client is not the bottleneck) send one-row and 1,000-row requests
(``dataframe_records`` JSON) at concurrency 1, 8 and 32 for ``--seconds`` each. Printed:
requests/s, rows/s, p50 and p99 latency, and the memory (RSS) of each process after the runs.
With ``--mlflow`` the same loads go to ``mlflow models serve`` (MLflow's FastAPI scoring server,
``--env-manager local``) on the same models exported with ``format="mlflow"``; with ``--plain``
to ``sweepml serve --no-compile`` (each member through its scikit-learn pipeline). Last, each
ensemble member's in-process cost, as its pipeline and compiled.

    python benchmarks/serving.py [--seconds 10] [--mlflow] [--plain] [--threads 1,2]
        [--out benchmarks/results/serving.jsonl]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"


def credit_data() -> tuple:
    sys.path.insert(0, str(BENCH))
    import run as harness  # the benchmark harness's own split

    _, X_train, y_train, X_test, _, _ = harness.load_split(str(BENCH / "data"), "credit_data")
    return X_train, y_train, X_test


def fit_models(folder: Path) -> dict[str, Path]:
    from sweepml.tabular import AutoClassifier

    X_train, y_train, _ = credit_data()
    models = {
        "lightgbm pipeline": AutoClassifier(max_trials=1, ensemble_size=0, n_jobs=2,
                                            random_state=0),
        "60 s ensemble": AutoClassifier(time_budget=60, n_jobs=2, random_state=0),
    }  # fmt: skip
    paths = {}
    for name, model in models.items():
        model.fit(X_train, y_train)
        members = [config["model"] for _, _, config in model.ensemble_]
        print(f"{name}: members {members}", file=sys.stderr)
        paths[name] = model.save(folder / f"{name.replace(' ', '_')}.joblib")
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_loop(port: int, body: bytes, until: float, out: list[float]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    while time.perf_counter() < until:
        start = time.perf_counter()
        connection.request("POST", "/invocations", body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        out.append(time.perf_counter() - start)
    connection.close()


def client_process(port: int, body: bytes, threads: int, until: float, queue) -> None:
    latencies: list[float] = []
    workers = [threading.Thread(target=client_loop, args=(port, body, until, latencies))
               for _ in range(threads)]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(latencies)


def load(port: int, body: bytes, concurrency: int, seconds: float, processes: int) -> list[float]:
    """Latencies of every request ``concurrency`` closed-loop clients made in ``seconds``."""
    processes = min(processes, concurrency)
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    until = time.perf_counter() + seconds
    started = [context.Process(target=client_process, args=(port, body, n, until, queue))
               for n in shares]  # fmt: skip
    for process in started:
        process.start()
    latencies = [x for _ in started for x in queue.get()]
    for process in started:
        process.join()
    return latencies


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def serve(
    model: Path, workers: int, threads: int | None, *options: str
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [sys.executable, "-m", "sweepml.cli.main", "serve", str(model), "--port", str(port),
               "--workers", str(workers), *options]  # fmt: skip
    if threads is not None:
        command += ["--threads", str(threads)]
    return started(command, port, os.environ.copy())


def serve_plain(model: Path, workers: int, threads: int | None) -> tuple[subprocess.Popen, int]:
    """``sweepml serve --no-compile``: each member through its scikit-learn pipeline."""
    return serve(model, workers, threads, "--no-compile")


def serve_mlflow(model: Path, workers: int, threads: None) -> tuple[subprocess.Popen, int]:
    """MLflow's own scoring server on the same model, exported with format="mlflow" (its
    libraries choose their threads)."""
    from sweepml.tabular import load_model

    folder = model.with_suffix(".mlflow")
    if not folder.exists():
        load_model(model).export(folder, format="mlflow")
    port = free_port()
    command = [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", str(folder),
               "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port), "-w",
               str(workers)]  # fmt: skip
    environment = os.environ.copy()  # its server starts `uvicorn` from PATH
    environment["PATH"] = f"{Path(sys.executable).parent}:{environment.get('PATH', '')}"
    return started(command, port, environment)


def started(command: list[str], port: int, environment: dict) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              env=environment, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError(f"the server did not start: {' '.join(command)}")


def server_pids(server: subprocess.Popen) -> list[int]:
    """The processes of the server's session (its workers, and a supervisor if it has one)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == server.pid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)


def timed_ms(call, repeats: int) -> float:
    """The median milliseconds of ``call`` over ``repeats`` runs, after two warm-up runs."""
    for _ in range(2):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def member_costs(paths: dict[str, Path], X_test) -> list[dict]:
    """What each ensemble member costs a one-row and a 1,000-row call in process, as its
    scikit-learn pipeline and compiled (``sweepml.tabular.compiled``), on conformed rows."""
    from sweepml.serve.schema import conform, schema_of
    from sweepml.serve.service import compiled_members
    from sweepml.tabular import load_model

    print("\n| model | member | weight | pipeline: 1 row ms | 1,000 rows ms | compiled: 1 row ms "
          "| 1,000 rows ms |\n|---|---|---|---|---|---|---|")  # fmt: skip
    records = []
    for name, path in paths.items():
        model = load_model(path)
        schema = schema_of(model)
        frames = {n: conform(X_test.sample(n, replace=True, random_state=0), schema)
                  for n in (1, 1000)}  # fmt: skip
        compiled, _ = compiled_members(model, schema)
        parts = [(f"{config['model']} #{i}", f"{weight:.2f}", pipeline.predict_proba,
                  getattr(compiled[i], "predict_proba", None) if compiled[i] is not pipeline
                  else None)
                 for i, (weight, pipeline, config) in enumerate(model.ensemble_)]  # fmt: skip
        parts.append(("whole model (predict_proba)", "", model.predict_proba,
                      lambda rows, m=model, c=compiled: m.blend_members(rows, c)))  # fmt: skip
        for member, weight, predict, fast in parts:
            costs = {n: timed_ms(lambda f=frame, p=predict: p(f), 50 if n == 1 else 10)
                     for n, frame in frames.items()}  # fmt: skip
            fast_costs = {n: float("nan") if fast is None else
                          timed_ms(lambda f=frame, p=fast: p(f), 50 if n == 1 else 10)
                          for n, frame in frames.items()}  # fmt: skip
            records.append({"kind": "member cost", "model": name, "member": member,
                            "weight": weight, "one_row_ms": costs[1],
                            "thousand_rows_ms": costs[1000],
                            "compiled_one_row_ms": fast_costs[1],
                            "compiled_thousand_rows_ms": fast_costs[1000]})  # fmt: skip
            print(f"| {name} | {member} | {weight} | {costs[1]:.2f} | {costs[1000]:.1f} | "
                  f"{fast_costs[1]:.2f} | {fast_costs[1000]:.1f} |")  # fmt: skip
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--models", type=Path, help="a folder of models from an earlier run")
    parser.add_argument("--out", type=Path, help="JSONL of the figures")
    parser.add_argument(
        "--threads",
        default="",
        help="comma-separated --threads values for sweepml serve (default: its own default)",
    )
    parser.add_argument(
        "--members-only",
        action="store_true",
        help="only the in-process cost of each ensemble member",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="also run `sweepml serve --no-compile` (members through their scikit-learn pipelines)",
    )
    parser.add_argument(
        "--mlflow",
        action="store_true",
        help="also run `mlflow models serve` on each model (needs sweepml[mlflow])",
    )
    args = parser.parse_args()
    folder = args.models or Path(tempfile.mkdtemp(prefix="sweepml-serving-"))
    found = sorted(folder.glob("*.joblib"))
    paths = {p.stem.replace("_", " "): p for p in found} if found else fit_models(folder)
    _, _, X_test = credit_data()
    rows = json.loads(X_test.to_json(orient="records"))
    bodies = {n: json.dumps({"dataframe_records": (rows * 2)[:n]}).encode() for n in (1, 1000)}
    if args.members_only:
        write(args.out, member_costs(paths, X_test))
        return
    print("| server | model | workers | threads | rows/request | clients | requests/s | rows/s | "
          "p50 ms | p99 ms | RSS MB per process |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    threads_tried = [int(t) for t in args.threads.split(",") if t] or [None]
    servers = [("sweepml serve", serve, t) for t in threads_tried]
    if args.plain:
        servers += [("sweepml serve --no-compile", serve_plain, t) for t in threads_tried]
    if args.mlflow:
        servers.append(("mlflow models serve", serve_mlflow, None))
    records = []
    for name, path in paths.items():
        for label, start, threads in servers:
            for workers in (1, 2):
                server, port = start(path, workers, threads)
                shown_threads = "-" if threads is None else threads
                try:
                    for n_rows, body in bodies.items():
                        for concurrency in (1, 8, 32):
                            load(port, body, concurrency, 1.0, args.client_processes)  # warm up
                            latencies = load(port, body, concurrency, args.seconds,
                                             args.client_processes)  # fmt: skip
                            memory = [rss_mb(pid) for pid in server_pids(server)]
                            rss = " / ".join(f"{m:.0f}" for m in memory)
                            figures = {
                                "server": label, "model": name, "workers": workers,
                                "threads": threads,
                                "rows": n_rows, "concurrency": concurrency,
                                "requests_per_s": len(latencies) / args.seconds,
                                "rows_per_s": len(latencies) * n_rows / args.seconds,
                                "p50_ms": float(np.percentile(latencies, 50) * 1e3),
                                "p99_ms": float(np.percentile(latencies, 99) * 1e3),
                                "rss_mb": memory,
                            }  # fmt: skip
                            records.append(figures)
                            print(f"| {label} | {name} | {workers} | {shown_threads} | {n_rows} | "
                                  f"{concurrency} | "
                                  f"{figures['requests_per_s']:.0f} | "
                                  f"{figures['rows_per_s']:.0f} | {figures['p50_ms']:.1f} | "
                                  f"{figures['p99_ms']:.1f} | {rss} |", flush=True)  # fmt: skip
                finally:
                    os.killpg(server.pid, signal.SIGTERM)
                    server.wait(60)
    records += member_costs(paths, X_test)
    write(args.out, records)


def write(out: Path | None, records: list[dict]) -> None:
    """Append ``records`` to the JSONL file ``out``, each with the commit and the CPU count."""
    if out is None:
        return
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    with out.open("a") as handle:
        for record in records:
            handle.write(json.dumps({**record, "commit": commit, "cpus": os.cpu_count()}) + "\n")


if __name__ == "__main__":
    main()
