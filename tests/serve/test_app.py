"""The application in process (no server): a prediction past --timeout is a 504, a model that
fails on a request is a 500 with its error and no traceback, and the worker answers on."""

from __future__ import annotations

import asyncio
import json
import time

import joblib
import pandas as pd
import pytest

pytest.importorskip("starlette")

from sweepml.serve.app import ServeSettings, build_app  # noqa: E402
from sweepml.serve.service import TabularService  # noqa: E402
from sweepml.tabular import AutoClassifier  # noqa: E402


def call(app, method: str, path: str, body: bytes = b"", content_type: str = ""):
    """One request through the ASGI interface, as a server would make it."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"content-type", content_type.encode())] if content_type
        else [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    return status, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


class Slow(TabularService):
    def predict(self, invocation):
        time.sleep(1.0)
        return {"predictions": []}


class Failing(TabularService):
    def predict(self, invocation):
        raise ValueError("the model could not do it")


@pytest.fixture(scope="module")
def model():
    frame = pd.DataFrame({"a": range(40), "b": ["x", "y"] * 20})
    return AutoClassifier(max_trials=2, n_jobs=1, random_state=0).fit(frame, [0, 1] * 20)


BODY = json.dumps({"dataframe_records": [{"a": 1, "b": "x"}]}).encode()


def test_a_prediction_past_the_timeout_is_a_504(model):
    app = build_app(Slow(model, "m.joblib"), ServeSettings("m.joblib", timeout=0.2))
    status, answer = call(app, "POST", "/invocations", BODY, "application/json")
    assert status == 504 and "--timeout" in answer["message"]


def test_a_model_failing_on_a_request_is_a_500_without_a_traceback(model):
    app = build_app(Failing(model, "m.joblib"), ServeSettings("m.joblib"))
    status, answer = call(app, "POST", "/invocations", BODY, "application/json")
    assert status == 500 and answer["error_code"] == "INTERNAL_ERROR"
    assert "ValueError: the model could not do it" in answer["message"]
    assert "Traceback" not in answer["message"]
    assert call(app, "GET", "/ping") == (200, {"status": "ok"})


def test_a_model_saved_before_the_schema_was_recorded_is_served_by_its_kinds(model, tmp_path):
    joblib.dump(model, tmp_path / "m.joblib")
    older = joblib.load(tmp_path / "m.joblib")
    del older.input_schema_
    app = build_app(TabularService(older, "m.joblib"), ServeSettings("m.joblib"))
    status, answer = call(app, "POST", "/invocations", BODY, "application/json")
    expected = model.predict(pd.DataFrame({"a": [1], "b": ["x"]})).tolist()
    assert status == 200 and answer["predictions"] == expected
    status, meta = call(app, "GET", "/metadata")
    assert [c["kind"] for c in meta["input_schema"]] == ["numeric", "categorical"]
