"""The application in process (no server): a prediction past --timeout is a 504, a model that
fails on a request is a 500 with its error and no traceback, and the worker answers on."""

from __future__ import annotations

import asyncio
import copy
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
    return asyncio.run(call_async(app, method, path, body, content_type))


async def call_async(app, method: str, path: str, body: bytes = b"", content_type: str = ""):
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

    await app(scope, receive, send)
    status = sent[0]["status"]
    return status, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def together(app, bodies: list[bytes]) -> list:
    """The answers to ``bodies`` sent at the same moment."""

    async def all_at_once():
        requests = [call_async(app, "POST", "/invocations", b, "application/json") for b in bodies]
        return await asyncio.gather(*requests)

    return asyncio.run(all_at_once())


class Counting(TabularService):
    """Counts the model calls, each slow enough that the next requests queue up behind it."""

    calls: list[int]

    def outputs(self, rows):
        # a DataFrame, or (compiled members) its columns by name
        self.calls.append(len(rows) if isinstance(rows, pd.DataFrame) else len(rows["a"]))
        time.sleep(0.05)
        return super().outputs(rows)


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


def records(rows: list[dict], **params) -> bytes:
    return json.dumps(
        {"dataframe_records": rows, **({"params": params} if params else {})}
    ).encode()


ROWS = [{"a": a, "b": b} for a, b in zip(range(0, 40, 3), "xyxyxxyyxyxyxy")]


def test_requests_arriving_together_share_model_calls_and_get_their_own_answers(model):
    service = Counting(model, "m.joblib")
    service.calls = []
    app = build_app(service, ServeSettings("m.joblib"))
    bodies = [records([row]) for row in ROWS[:8]] + [records(ROWS[8:11], proba=True)]
    answers = together(app, bodies)
    assert all(status == 200 for status, _ in answers)
    assert len(service.calls) < len(bodies) and sum(service.calls) == 11
    expected = model.predict(pd.DataFrame(ROWS[:8])).tolist()
    assert [answer["predictions"][0] for _, answer in answers[:8]] == expected
    probabilities = model.predict_proba(pd.DataFrame(ROWS[8:11]))
    given = answers[8][1]["predictions"]
    assert [[row[str(c)] for c in model.classes_] for row in given] == probabilities.tolist()


def test_a_bad_request_in_a_batch_gets_its_400_and_the_others_their_predictions(model):
    service = Counting(model, "m.joblib")
    service.calls = []
    app = build_app(service, ServeSettings("m.joblib"))
    bad = records([{"a": "many", "b": "x"}])
    answers = together(app, [records([ROWS[0]]), records([ROWS[1]]), bad, records([ROWS[2]])])
    assert [status for status, _ in answers] == [200, 200, 400, 200]
    assert "column 'a' (numeric) expects numbers; row 0 has 'many'" in answers[2][1]["message"]
    expected = model.predict(pd.DataFrame([ROWS[0], ROWS[1], ROWS[2]])).tolist()
    assert [answers[i][1]["predictions"][0] for i in (0, 1, 3)] == expected


def test_max_batch_rows_caps_the_rows_of_one_model_call(model):
    service = Counting(model, "m.joblib")
    service.calls = []
    app = build_app(service, ServeSettings("m.joblib", max_batch_rows=2))
    answers = together(app, [records([row]) for row in ROWS[:7]] + [records(ROWS[:5])])
    assert all(status == 200 for status, _ in answers)
    assert max(service.calls) <= 5 and sorted(service.calls)[:-1] == [1] + [2] * 3


class ThreadsSeen(TabularService):
    """Records the native thread pools' sizes that a model call runs with."""

    seen: list[list[int]]

    def outputs(self, frame):
        from threadpoolctl import threadpool_info

        self.seen.append([pool["num_threads"] for pool in threadpool_info()])
        return super().outputs(frame)


def test_one_model_call_uses_the_threads_it_is_given(model):
    """Trees' thread parameters and the native pools (OpenMP, BLAS) of the model's thread: a
    one-row call with more threads than it can use only waits for them."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import SVC

    from sweepml.tabular.components import set_threads

    assert set_threads(forest := RandomForestClassifier(n_jobs=2), 1) and forest.n_jobs == 1
    assert not set_threads(SVC(), 1)
    served = copy.deepcopy(model)
    service = ThreadsSeen(served, "m.joblib")
    service.seen = []
    members = [pipeline.steps[-1][1] for _, pipeline, _ in served.ensemble_]
    for member in members:
        set_threads(member, 2)
    app = build_app(service, ServeSettings("m.joblib", threads=1))
    status, _ = call(app, "POST", "/invocations", BODY, "application/json")
    assert status == 200 and service.seen and set(service.seen[0]) == {1}
    thread_params = [member.get_params().get("n_jobs") for member in members]
    assert all(value in (1, None) for value in thread_params)


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """An ImageClassifier on 8 x 8 digits, exported to a folder, and the digits."""
    pytest.importorskip("torch")
    from sweepml.nas import ImageClassifier
    from sweepml.nas import data as nas_data

    digits = nas_data.load_digits()
    model = ImageClassifier(max_trials=1, epochs=1, final_epochs=1, filters=4, batch_size=32,
                            seed=0).fit(digits.x_train[:200], digits.y_train[:200])  # fmt: skip
    folder = model.save_weights(tmp_path_factory.mktemp("images") / "digits")
    return folder, model, digits


def png(pixels) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_image_model_answers_pixel_lists_and_base64_files(digits_model):
    import numpy as np

    from sweepml.serve.service import load_service

    folder, model, digits = digits_model
    app = build_app(load_service(folder), ServeSettings(str(folder)))
    floats = digits.x_test[:6]
    status, answer = call(
        app,
        "POST",
        "/invocations",
        json.dumps({"instances": floats.tolist()}).encode(),
        "application/json",
    )
    assert status == 200 and answer["predictions"] == model.predict(floats).tolist()
    pixels = (digits.x_test[6:10] * 255).astype(np.uint8)  # 8-bit pixels, scaled as at fit
    files = [png(image) for image in pixels[:2]] + [{"b64": png(image)} for image in pixels[2:]]
    body = json.dumps({"inputs": files, "params": {"proba": True}}).encode()
    status, answer = call(app, "POST", "/invocations", body, "application/json")
    assert status == 200
    given = [[row[str(c)] for c in model.classes_] for row in answer["predictions"]]
    np.testing.assert_allclose(given, model.predict_proba(pixels), rtol=1e-6)
    bodies = [json.dumps({"instances": [image.tolist()]}).encode() for image in pixels]
    answers = together(app, bodies)  # batched with each other, each its own answer
    assert [a["predictions"][0] for _, a in answers] == model.predict(pixels).tolist()
    status, meta = call(app, "GET", "/metadata")
    assert meta["input"]["shape"] == [8, 8, 1] and meta["estimator"] == "ImageClassifier"


@pytest.mark.parametrize(
    "body, content_type, status, words",
    [(b'{"instances": [["a"]]}', "application/json", 400, "must hold images of numbers"),
     (b'{"dataframe_records": [{"a": 1}]}', "application/json", 400, "exactly one of"),
     (b"a,b\n1,2\n", "text/csv", 415, "an image model takes Content-Type application/json"),
     (b'{"instances": ["bm90IGFuIGltYWdl"]}', "application/json", 400, "not a PNG or JPEG"),
     (b'{"instances": ["%%%"]}', "application/json", 400, "must be base64 PNG or JPEG"),
     (json.dumps({"instances": [[[0.5] * 5] * 5]}).encode(), "application/json", 400,
      "each image must be 8 x 8 (height x width, or 8 x 8 x 1); got images of shape [5, 5]"),
     (json.dumps({"instances": [[[300] * 8] * 8]}).encode(), "application/json", 400,
      "8-bit values")],
)  # fmt: skip
def test_bad_image_requests_are_named(digits_model, body, content_type, status, words):
    from sweepml.serve.service import load_service

    folder, _, _ = digits_model
    app = build_app(load_service(folder), ServeSettings(str(folder)))
    got, answer = call(app, "POST", "/invocations", body, content_type)
    assert got == status and words in answer["message"], answer


def test_an_image_file_of_another_size_is_refused_not_resized(digits_model):
    import numpy as np

    from sweepml.serve.service import load_service

    folder, _, _ = digits_model
    app = build_app(load_service(folder), ServeSettings(str(folder)))
    body = json.dumps({"instances": [png(np.zeros((16, 12), dtype=np.uint8))]}).encode()
    status, answer = call(app, "POST", "/invocations", body, "application/json")
    assert status == 400
    assert "image 0 is 16 x 12 pixels; this model takes 8 x 8" in answer["message"]


def test_a_fitted_catboost_model_keeps_its_threads():
    """CatBoost refuses new parameters once fitted (and predicts with every CPU anyway)."""
    catboost = pytest.importorskip("catboost")
    from sweepml.tabular.components import set_threads

    fitted = catboost.CatBoostClassifier(
        iterations=2, verbose=False, thread_count=1, allow_writing_files=False
    )
    fitted.fit([[0], [1]] * 5, [0, 1] * 5)
    assert not set_threads(fitted, 2) and fitted.get_params()["thread_count"] == 1
    assert set_threads(unfitted := catboost.CatBoostClassifier(thread_count=1), 2)
    assert unfitted.get_params()["thread_count"] == 2


def test_compiled_members_answer_what_the_model_predicts(model):
    """Unseen categories, missing values, numbers in a text column, a batch of requests."""
    service = TabularService(model, "m.joblib")
    assert service.not_compiled == [] and all(m is not p for m, (_, p, _) in
                                              zip(service.members, model.ensemble_))  # fmt: skip
    app = build_app(service, ServeSettings("m.joblib"))
    odd = [{"a": 3, "b": "never seen"}, {"a": None, "b": "y"}, {"a": 7.5, "b": None},
           {"a": 2, "b": 5}]  # fmt: skip
    bodies = [records([row], proba=True) for row in ROWS[:6] + odd]
    answers = together(app, bodies)
    expected = model.predict_proba(pd.DataFrame(ROWS[:6] + odd, dtype=object))
    for (status, answer), row in zip(answers, expected):
        # batched with others: a linear member's matrix product may differ in the last bits
        given = list(answer["predictions"][0].values())
        assert status == 200 and given == pytest.approx(row.tolist(), rel=1e-12)
    status, meta = call(app, "GET", "/metadata")
    assert meta["compiled_members"] == meta["members"] == len(model.ensemble_)


def test_a_member_that_does_not_compile_is_predicted_as_fitted(model, monkeypatch, caplog):
    from sweepml.serve import service as service_module
    from sweepml.tabular.compiled import NotCompiled

    def refuse(pipeline, probe):
        raise NotCompiled("its step 'x' is not reproduced")

    monkeypatch.setattr(service_module, "compile_pipeline", refuse)
    with caplog.at_level("INFO", logger="sweepml.serve"):
        service = TabularService(model, "m.joblib")
    assert "its step 'x' is not reproduced" in caplog.text
    assert [m for m in service.members] == [p for _, p, _ in model.ensemble_]
    app = build_app(service, ServeSettings("m.joblib"))
    status, answer = call(app, "POST", "/invocations", records(ROWS[:4]), "application/json")
    assert status == 200 and answer["predictions"] == model.predict(pd.DataFrame(ROWS[:4])).tolist()
    status, meta = call(app, "GET", "/metadata")
    assert meta["compiled_members"] == 0 and "not reproduced" in meta["not_compiled"][0]
