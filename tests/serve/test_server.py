"""`sweepml serve` as a user runs it: a subprocess on a free loopback port, spoken to over HTTP
with a real client (http.client), on a model fit on a table with categoricals, missing values,
booleans, a datetime column and a constant column."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from sweepml.tabular import AutoClassifier, AutoRegressor  # noqa: E402


def table(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "member": rng.choice([True, False], n),
            "joined": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "constant": 1,
        }
    )
    frame.loc[::7, "age"] = np.nan
    label = np.where((frame["age"].fillna(40) > 45) ^ (frame["city"] == "nice"), "yes", "no")
    return frame, pd.Series(label, name="churn")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    frame, target = table(300)
    model = AutoClassifier(max_trials=3, n_jobs=1, random_state=0).fit(frame, target)
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    model.save(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``sweepml serve`` in a subprocess; ``request`` speaks HTTP to it."""

    def __init__(self, model: Path, *flags: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "sweepml.cli.main", "serve", str(model),
                   "--port", str(self.port), *flags]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.process.stderr.read()}")
            try:
                if self.request("GET", "/ping")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not answer /ping within 60 s")

    def request(self, method: str, path: str, body: bytes | str | None = None,
                content_type: str | None = None) -> tuple[int, dict]:  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
        connection.close()
        return status, json.loads(text)

    def post(self, document: dict | str, path: str = "/invocations") -> tuple[int, dict]:
        if isinstance(document, str):
            return self.request("POST", path, document, "text/csv")
        return self.request("POST", path, json.dumps(document), "application/json")

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, stderr


@pytest.fixture(scope="module")
def server(model_file):
    running = Server(model_file, "--max-rows", "500", "--max-body-mb", "0.5")
    yield running
    running.stop()


def rows(n: int = 25) -> pd.DataFrame:
    return table(n, seed=1)[0]


def as_json(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def test_every_json_format_and_csv_give_the_predictions_of_the_model(server, model_file):
    model = joblib.load(model_file)
    frame = rows()
    expected = model.predict(frame).tolist()
    records = as_json(frame)
    split = json.loads(frame.to_json(orient="split", date_format="iso", index=False))
    columnar = {name: [r[name] for r in records] for name in frame.columns}
    bodies = [
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": records},
        {"instances": [[r[c] for c in frame.columns] for r in records]},
        {"inputs": columnar},
        frame.to_csv(index=False),
    ]
    for body in bodies:
        status, answer = server.post(body)
        assert status == 200, answer
        assert answer["predictions"] == expected


def test_probabilities_come_with_the_class_names(server, model_file):
    model = joblib.load(model_file)
    frame = rows()
    status, answer = server.post({"dataframe_records": as_json(frame), "params": {"proba": True}})
    assert status == 200
    expected = model.predict_proba(frame)
    assert [sorted(row) for row in answer["predictions"]] == [["no", "yes"]] * len(frame)
    got = np.array([[row["no"], row["yes"]] for row in answer["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    status, by_query = server.request(
        "POST", "/invocations?proba=true", frame.to_csv(index=False), "text/csv"
    )
    assert status == 200 and by_query == answer


def test_missing_values_and_unseen_categories_are_handled_as_at_fit_time(server, model_file):
    model = joblib.load(model_file)
    frame = rows(4)
    frame.loc[0, "age"] = np.nan
    frame.loc[1, "city"] = "rome"  # never seen at fit time
    frame = frame.drop(columns="constant")  # dropped at fit time: the request may leave it out
    status, answer = server.post({"dataframe_records": as_json(frame)})
    assert status == 200
    assert answer["predictions"] == model.predict(frame.assign(constant=1)).tolist()


def test_the_described_endpoints(server):
    for path in ("/ping", "/health"):
        assert server.request("GET", path) == (200, {"status": "ok"})
    status, version = server.request("GET", "/version")
    assert status == 200 and version["sweepml"]
    status, meta = server.request("GET", "/metadata")
    assert status == 200
    assert meta["task"] == "classification" and meta["target"] == "churn"
    assert meta["classes"] == ["no", "yes"] and meta["metric"] == "roc_auc"
    kinds = {column["name"]: column["kind"] for column in meta["input_schema"]}
    assert kinds == {"age": "numeric", "city": "categorical", "member": "boolean",
                     "joined": "datetime", "constant": "ignored"}  # fmt: skip
    assert [c["missing_at_fit"] for c in meta["input_schema"]][:2] == [True, False]
    assert 0.5 < meta["validation_score"] <= 1 and meta["leaderboard"]
    assert meta["fit_seconds"] > 0 and meta["served_with"]["scikit-learn"]
    assert meta["fitted_with"]["sweepml"] == version["sweepml"]
    assert meta["compiled_members"] == meta["members"] and meta["not_compiled"] == []


@pytest.mark.parametrize(
    "body, status, words",
    [
        ("{not json", 400, ["not valid JSON"]),
        ('["a list"]', 400, ["must be an object"]),
        ('{"instances": [], "inputs": {}}', 400, ["exactly one of", "instances", "inputs"]),
        ('{"rows": []}', 400, ["exactly one of", "rows"]),
        ('{"dataframe_records": [1, 2]}', 400, ["row 0", "not an object"]),
        ('{"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}', 400, ["2 values for 1"]),
        ('{"dataframe_records": []}', 400, ["no rows"]),
        ('{"instances": [[1, 2]]}', 400, ["5 values", "'age'"]),
        ('{"dataframe_records": [{"age": 3}], "params": {"proba": "no way"}}', 400, ["true or"]),
        ('{"dataframe_records": [{"age": 3}], "params": {"top": 2}}', 400, ["unknown param"]),
    ],
)
def test_bodies_that_do_not_parse_are_400_with_what_is_wrong(server, body, status, words):
    got, answer = server.request("POST", "/invocations", body, "application/json")
    assert got == status and set(answer) == {"error_code", "message"}
    assert all(word in answer["message"] for word in words), answer["message"]


def test_a_schema_mismatch_names_the_column_and_the_kind_expected(server):
    record = as_json(rows(1))[0]
    status, answer = server.post({"dataframe_records": [{**record, "age": "old"}]})
    assert status == 400 and "'age' (numeric) expects numbers; row 0 has 'old'" in answer["message"]
    status, answer = server.post({"dataframe_records": [{**record, "joined": "yesterday-ish"}]})
    assert status == 400 and "'joined' (datetime)" in answer["message"]
    status, answer = server.post({"dataframe_records": [{**record, "member": "perhaps"}]})
    assert status == 400 and "'member' (boolean) expects true or false" in answer["message"]
    without_city = {k: v for k, v in record.items() if k != "city"}
    status, answer = server.post({"dataframe_records": [{**without_city, "zip": 75001}]})
    assert status == 400
    assert "lacks 'city' (categorical)" in answer["message"] and "['zip']" in answer["message"]


def test_limits_content_types_and_routes_answer_with_their_status(server):
    status, answer = server.post({"dataframe_records": as_json(rows(501))})
    assert status == 413 and "--max-rows" in answer["message"]
    status, answer = server.request("POST", "/invocations", "x" * 600_000, "text/csv")
    assert status == 413 and "--max-body-mb" in answer["message"]
    status, answer = server.request("POST", "/invocations", "age\n3", "text/plain")
    assert status == 415 and "application/json or text/csv" in answer["message"]
    status, answer = server.request("POST", "/invocations", "age\n3")
    assert status == 415
    assert server.request("GET", "/predict")[0] == 404
    status, answer = server.request("GET", "/invocations")
    assert status == 405 and answer["error_code"] == "METHOD_NOT_ALLOWED"
    status, answer = server.request("POST", "/invocations", b"\xff\xfe\x00", "text/csv")
    assert status == 400
    assert server.request("GET", "/ping")[0] == 200  # the worker is still there


def test_one_log_line_per_request_and_sigterm_drains_requests_in_flight(model_file):
    """Four requests are in flight (headers sent, half the body not yet) when SIGTERM comes:
    each finishes with its predictions, then the port closes and the process exits 0."""
    running = Server(model_file)
    body = rows(40).to_csv(index=False).encode()
    head = (f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    clients = [socket.create_connection(("127.0.0.1", running.port), timeout=60) for _ in range(4)]
    for client in clients:
        client.sendall(head + body[:20])
    time.sleep(0.5)
    running.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    answers = []
    for client in clients:
        client.sendall(body[20:])
        answers.append(_read_response(client))
        client.close()
    code, log = running.stop()
    assert code == 0, log
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers), answers
    assert all(answer.count(b'"yes"') + answer.count(b'"no"') == 40 for answer in answers)
    with pytest.raises(OSError):  # the port no longer answers
        running.request("GET", "/ping")
    lines = [line for line in log.splitlines() if "POST /invocations" in line]
    assert len(lines) == 4 and all("200 rows=40" in line and " ms" in line for line in lines)


def _read_response(client: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(65536)
    header, _, rest = data.partition(b"\r\n\r\n")
    length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(rest) < length:
        rest += client.recv(65536)
    return header + b"\r\n\r\n" + rest


def test_two_workers_each_load_the_model_and_answer(model_file):
    """... with the settings of the command (here: members predicted as fitted)."""
    running = Server(model_file, "--workers", "2", "--no-compile")
    try:
        status, answer = running.post({"dataframe_records": as_json(rows(3))})
        assert status == 200 and len(answer["predictions"]) == 3
        expected = joblib.load(model_file).predict(rows(3)).tolist()
        assert answer["predictions"] == expected
        status, meta = running.request("GET", "/metadata")
        assert meta["compiled_members"] == 0 and "--no-compile" in meta["not_compiled"][0]
        # the supervising process checked the model in a process of its own: it holds none of
        # the model's libraries (200 MB), only its workers do
        if sys.platform.startswith("linux"):
            maps = Path(f"/proc/{running.process.pid}/maps").read_text()
            assert "lib_lightgbm" not in maps and "pandas" not in maps
    finally:
        code, _ = running.stop()
    assert code == 0


def test_many_clients_at_once_each_get_the_predictions_of_their_own_rows(server, model_file):
    """Requests that arrive together are predicted in shared model calls; each answer is still
    ``model.predict`` of its own rows, whatever arrived beside it."""
    model = joblib.load(model_file)
    frame = rows(60)
    pieces = [frame.iloc[i : i + 1 + i % 3] for i in range(0, 60, 3)]  # 1, 2 or 3 rows each
    answers: dict[int, tuple[int, dict]] = {}

    def send(i: int) -> None:
        answers[i] = server.post({"dataframe_records": as_json(pieces[i])})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(pieces))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, piece in enumerate(pieces):
        status, answer = answers[i]
        assert status == 200 and answer["predictions"] == model.predict(piece).tolist()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sweepml.cli.main", "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_bad_model_file_is_one_line_before_the_port_opens(tmp_path, model_file):
    port = str(free_port())
    missing = run_cli(str(tmp_path / "nothing.joblib"), "--port", port)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a pickle")
    joblib.dump({"a": 1}, tmp_path / "dict.joblib")
    newer = joblib.load(model_file)
    newer.versions_ = {**newer.versions_, "sweepml": "99.0.0"}
    joblib.dump(newer, tmp_path / "newer.joblib")
    for name, words in (
        ("junk.joblib", "not a model saved by sweepml"),
        ("dict.joblib", "holds a dict, not a sweepml model"),
        ("newer.joblib", "was saved with sweepml 99.0.0"),
    ):
        result = run_cli(str(tmp_path / name), "--port", port)
        assert result.returncode == 2, result.stderr
        assert words in result.stderr and name in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Uvicorn" not in result.stderr
    # with --workers N the model is checked in a process of its own: the same one line
    result = run_cli(str(junk), "--port", port, "--workers", "2")
    assert result.returncode == 2 and "not a model saved by sweepml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    "flags, words",
    [(["--workers", "0"], "--workers must be at least 1"),
     (["--port", "70000"], "--port must be 0-65535"),
     (["--timeout", "0"], "--timeout must be above 0"),
     (["--max-rows", "0"], "--max-rows must be at least 1"),
     (["--max-batch-rows", "0"], "--max-batch-rows must be at least 1"),
     (["--threads", "0"], "--threads must be at least 1")],
)  # fmt: skip
def test_bad_flags_are_named(model_file, flags, words):
    result = run_cli(str(model_file), *flags)
    assert result.returncode == 2 and words in result.stderr


def test_without_the_serve_extra_the_command_says_what_to_install(model_file, monkeypatch, capsys):
    from sweepml.cli.main import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    assert main(["serve", str(model_file)]) == 2
    assert "pip install 'sweepml[serve]'" in capsys.readouterr().err


def test_a_regressor_answers_values_and_refuses_probabilities(tmp_path):
    from sweepml.serve.errors import RequestError
    from sweepml.serve.protocol import Invocation
    from sweepml.serve.service import TabularService

    frame, _ = table(200)
    target = frame["age"].fillna(40) * 2.0
    model = AutoRegressor(max_trials=2, n_jobs=1, random_state=0).fit(frame, target)
    service = TabularService(model, "model.joblib")
    answer = service.predict(Invocation(rows(5), proba=False))
    assert answer["predictions"] == pytest.approx(model.predict(rows(5)).tolist())
    with pytest.raises(RequestError, match="needs a classifier"):
        service.predict(Invocation(rows(5), proba=True))
    assert service.metadata()["task"] == "regression" and os.path.basename("model.joblib")


def test_an_image_classifier_folder_is_served(tmp_path):
    pytest.importorskip("torch")
    from sweepml.nas import ImageClassifier
    from sweepml.nas import data as nas_data

    digits = nas_data.load_digits()
    model = ImageClassifier(max_trials=1, epochs=1, final_epochs=1, filters=4, batch_size=32,
                            seed=0).fit(digits.x_train[:150], digits.y_train[:150])  # fmt: skip
    folder = model.save_weights(tmp_path / "digits")
    running = Server(folder)
    try:
        images = digits.x_test[:5]
        status, answer = running.post({"instances": images.tolist()})
        assert status == 200 and answer["predictions"] == model.predict(images).tolist()
        status, answer = running.post("a,b\n1,2\n")
        assert status == 415 and "image model" in answer["message"]
    finally:
        code, _ = running.stop()
    assert code == 0
