"""Which ASGI stack ``sweepml serve`` is built on: Starlette or FastAPI, under uvicorn.

The same endpoint in each (a one-row ``dataframe_records`` body read into a DataFrame, a JSON
answer; no model, so the figures are the stack's cost alone), served by uvicorn in a subprocess
on loopback, one worker; a closed-loop client on one keep-alive connection (``http.client``)
sends ``--requests`` requests, then ``--concurrency`` clients in threads do the same. FastAPI is
measured twice: reading the request itself, as ``sweepml.serve`` does, and with the body
declared as a parameter (its usual style: pydantic validates it).

    python benchmarks/serving_stack.py [--requests 2000] [--concurrency 8]

FastAPI is not a dependency of sweepml: install it beside the serve extra to run this
(``pip install fastapi``); without it only Starlette is measured.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

APPS = {
    "starlette": """
import pandas as pd
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def invocations(request):
    rows = pd.DataFrame.from_records((await request.json())["dataframe_records"])
    return JSONResponse({"predictions": [0] * len(rows)})

app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])
""",
    "fastapi (Request)": """
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()

@app.post("/invocations")
async def invocations(request: Request):
    rows = pd.DataFrame.from_records((await request.json())["dataframe_records"])
    return JSONResponse({"predictions": [0] * len(rows)})
""",
    "fastapi (pydantic body)": """
from typing import Any
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

class Body(BaseModel):
    dataframe_records: list[dict[str, Any]]

app = FastAPI()

@app.post("/invocations")
async def invocations(body: Body) -> dict[str, list[int]]:
    rows = pd.DataFrame.from_records(body.dataframe_records)
    return {"predictions": [0] * len(rows)}
""",
}

BODY = json.dumps({"dataframe_records": [{"age": 41.0, "city": "lyon", "member": True}]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(port: int, n: int, latencies: list[float]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    for _ in range(n):
        start = time.perf_counter()
        connection.request("POST", "/invocations", BODY, headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        latencies.append(time.perf_counter() - start)
    connection.close()


def measure(source: str, requests: int, concurrency: int) -> dict[str, float]:
    port = free_port()
    code = source + f"\nimport uvicorn\nuvicorn.run(app, port={port}, log_level='warning')\n"
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client(port, 1, [])
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        client(port, 200, [])  # warm up
        one: list[float] = []
        client(port, requests, one)
        many: list[float] = []
        threads = [
            threading.Thread(target=client, args=(port, requests // concurrency, many))
            for _ in range(concurrency)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait()
    cuts = statistics.quantiles(one, n=100)
    return {
        "p50_ms": cuts[49] * 1e3,
        "p99_ms": cuts[98] * 1e3,
        "rps_1": len(one) / sum(one),
        f"rps_{concurrency}": len(many) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    try:
        import fastapi  # noqa: F401
    except ImportError:
        print("fastapi is not installed: measuring Starlette only", file=sys.stderr)
        names = ["starlette"]
    else:
        names = list(APPS)
    print(f"| stack | p50 ms (1 client) | p99 ms | requests/s (1) | "
          f"requests/s ({args.concurrency}) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name in names:
        figures = measure(APPS[name], args.requests, args.concurrency)
        print(f"| {name} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} | "
              f"{figures['rps_1']:.0f} | {figures[f'rps_{args.concurrency}']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
