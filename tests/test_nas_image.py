"""ImageClassifier (Auto-Keras style) and the offline image data sets."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sweepml  # noqa: E402
from sweepml.nas import data as nas_data  # noqa: E402
from sweepml.nas.image import ImageClassifier  # noqa: E402
from sweepml.nas.spaces import chain_space  # noqa: E402
from sweepml.space import Choice, Space  # noqa: E402
from sweepml.trial import TrialStatus  # noqa: E402

TINY = {"filters": 4, "batch_size": 32, "seed": 0}


@pytest.fixture(scope="module")
def digits():
    return nas_data.load_digits()


@pytest.fixture(scope="module")
def fitted(digits):
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])  # fmt: skip
    model = ImageClassifier(max_trials=2, epochs=2, final_epochs=6, **TINY)
    return model.fit(digits.x_train[:500], names[digits.y_train[:500]]), names


def test_fit_searches_then_predicts_labels_probabilities_and_scores(digits, fitted):
    model, names = fitted
    assert len(model.study_.trials) == 2
    assert all(len(t.intermediate) == 2 for t in model.study_.trials)  # per-epoch accuracy
    assert model.best_config_ == model.study_.best.config
    proba = model.predict_proba(digits.x_test)
    assert proba.shape == (len(digits.x_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(model.predict(digits.x_test)) <= set(names)
    scores = model.evaluate(digits.x_test, names[digits.y_test])
    assert scores["accuracy"] > 0.8 and scores["loss"] > 0


def test_export_writes_weights_architecture_and_a_graph_that_predicts_the_same(
    digits, fitted, tmp_path
):
    model, _ = fitted
    model.export(tmp_path / "pt2", format="pt2")
    description = json.loads((tmp_path / "pt2" / "architecture.json").read_text())
    assert description["config"] == model.best_config_ and description["input_shape"] == [1, 8, 8]
    loaded = ImageClassifier.load(tmp_path / "pt2", device="cpu")
    assert description["pixels"] == loaded.pixels_ == "float"  # digits come as floats
    expected_all = model.predict_proba(digits.x_test)
    np.testing.assert_allclose(loaded.predict_proba(digits.x_test), expected_all, atol=1e-6)
    program = torch.export.load(tmp_path / "pt2" / "model.pt2").module()
    images = model._tensor(digits.x_test[:5, None])
    expected = model.predict_proba(digits.x_test[:5])
    np.testing.assert_allclose(torch.softmax(program(images), 1).detach().numpy(), expected,
                               atol=1e-5)  # fmt: skip
    onnxruntime = pytest.importorskip("onnxruntime")
    model.export(tmp_path / "onnx")
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [
        "architecture.json",
        "model.onnx",
        "weights.pt",
    ]  # one self-contained graph file
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"))
    logits = session.run(None, {"images": images.numpy()})[0]  # any batch size
    assert (logits.argmax(axis=1) == expected.argmax(axis=1)).all()
    with pytest.raises(sweepml.InvalidParameterError, match="'format'.*onnx"):
        model.export(tmp_path / "x", format="torchscript")


def test_channels_last_images_and_torch_datasets_are_taken(digits):
    rgb = np.repeat(digits.x_train[:120, :, :, None], 3, axis=3)  # N x H x W x C
    model = ImageClassifier(max_trials=1, epochs=1, final_epochs=1, **TINY)
    model.fit(rgb, digits.y_train[:120])
    assert model.input_shape_ == (3, 8, 8)
    assert model.predict(rgb[:4]).shape == (4,)
    dataset = torch.utils.data.TensorDataset(
        torch.tensor(digits.x_train[:120, None]), torch.tensor(digits.y_train[:120])
    )  # items C x H x W with int labels
    model = ImageClassifier(max_trials=1, epochs=1, final_epochs=1, **TINY).fit(dataset)
    assert model.input_shape_ == (1, 8, 8) and model.evaluate(dataset)["accuracy"] >= 0
    uint8 = (digits.x_train[:120] * 255).astype(np.uint8)  # 0..255 pixels are scaled
    model = ImageClassifier(max_trials=1, epochs=1, final_epochs=1, **TINY).fit(
        uint8, digits.y_train[:120]
    )
    assert model.mean_[0] < 1.0 and model.pixels_ == "8-bit"


def test_bad_inputs_get_clear_errors(digits):
    model = ImageClassifier(max_trials=1, epochs=1, **TINY)
    mixed = [np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((10, 10))]
    with pytest.raises(sweepml.InvalidParameterError, match=r"one shape.*\(10, 10\) and \(8, 8\)"):
        model.fit(mixed, [0, 1, 0])
    with pytest.raises(sweepml.InvalidParameterError, match="120 images but 119 labels"):
        model.fit(digits.x_train[:120], digits.y_train[:119])
    with pytest.raises(sweepml.InvalidParameterError, match=r"N x H x W.*shape \(120, 64\)"):
        model.fit(digits.x_train[:120].reshape(120, 64), digits.y_train[:120])
    with pytest.raises(sweepml.InvalidParameterError, match="at least two classes"):
        model.fit(digits.x_train[:20], np.zeros(20, dtype=int))
    with pytest.raises(sweepml.InvalidParameterError, match="NaN"):
        model.fit(np.full((20, 8, 8), np.nan), np.arange(20) % 2)
    with pytest.raises(sweepml.InvalidParameterError, match="validation_split"):
        model.fit(digits.x_train[:20], np.arange(20) % 2, validation_split=1.0)
    with pytest.raises(sweepml.InvalidParameterError, match="'space' parameter"):
        ImageClassifier(space="resnet")
    with pytest.raises(sweepml.InvalidParameterError, match="'device' parameter"):
        ImageClassifier(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(sweepml.InvalidParameterError, match="sees no CUDA GPU"):
            ImageClassifier(device="cuda")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(digits.x_test)


def test_predicting_other_shapes_or_labels_is_refused(digits, fitted):
    model, _ = fitted
    with pytest.raises(
        sweepml.InvalidParameterError, match=r"fitted on images of shape \(1, 8, 8\)"
    ):
        model.predict(np.zeros((2, 9, 9)))
    with pytest.raises(sweepml.InvalidParameterError, match="not fitted on"):
        model.evaluate(digits.x_test[:3], ["cat", "dog", "zero"])


def test_unbuildable_architectures_and_out_of_memory_trials_are_recorded_and_the_search_goes_on(
    digits, monkeypatch
):
    import sweepml.nas.image as image

    real_train = image.train
    calls = {"n": 0}

    def train_once_out_of_memory(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError("CUDA out of memory while training: Tried to allocate 2.00 GiB")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(image, "train", train_once_out_of_memory)
    # a 4-layer chain on 8x8 images that max-pools thrice, and a fourth time half the time
    pools = {f"r{i}": Choice(["maxpool"]) for i in (1, 2, 3)}
    space = Space({**chain_space(4), **pools, "r4": Choice(["maxpool", "none"])})
    model = ImageClassifier(max_trials=6, epochs=1, final_epochs=1, space=space,
                            strategy="random", **TINY)  # fmt: skip
    model.fit(digits.x_train[:150], digits.y_train[:150])
    statuses = [t.status for t in model.study_.trials]
    assert TrialStatus.MEMOUT in statuses and TrialStatus.OK in statuses
    failed = [t for t in model.study_.trials if t.status is TrialStatus.FAILED]
    assert failed and all("below one pixel" in t.error for t in failed)


def test_multi_fidelity_strategies_use_epochs_as_the_budget(digits):
    model = ImageClassifier(max_trials=6, epochs=3, final_epochs=1, strategy="hyperband",
                            **TINY).fit(digits.x_train[:150], digits.y_train[:150])  # fmt: skip
    budgets = {t.budget for t in model.study_.trials}
    assert budgets <= {1, 3} and 1 in budgets
    assert all(len(t.intermediate) == t.budget for t in model.study_.trials if t.value is not None)
    with pytest.raises(sweepml.InvalidParameterError, match="epochs >= 2"):
        ImageClassifier(epochs=1, strategy="bohb", **TINY).fit(digits.x_train[:50],
                                                               digits.y_train[:50])  # fmt: skip


# -- data ------------------------------------------------------------------------------------


def test_offline_data_sets_load_shuffled_and_scaled():
    digits = nas_data.load_digits()
    assert (
        digits.x_train.shape[1:] == (8, 8) and 0 <= digits.x_train.min() < digits.x_train.max() <= 1
    )
    mnist = nas_data.load_mnist_5000()
    assert mnist.x_train.shape == (4000, 28, 28) and mnist.x_test.shape == (1000, 28, 28)
    assert len(set(mnist.y_train[:50])) > 5  # stored sorted by class: shuffled here
    assert mnist.x_train.max() == 1.0
    signals = nas_data.load_mnist1d(n_samples=500)
    assert signals.x_train.shape == (400, 1, 40) and set(signals.y_test) <= set(range(10))
    small = mnist.subset(100, 20, seed=1)
    assert small.x_train.shape == (100, 28, 28) and small.x_test.shape == (20, 28, 28)


def test_fashion_mnist_is_read_from_the_debian_package_or_named(tmp_path):
    with pytest.raises(sweepml.SweepmlError, match="apt-get install dataset-fashion-mnist"):
        nas_data.load_fashion_mnist(tmp_path)
    if not nas_data.FASHION_MNIST_DIR.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (CI installs it)")
    fashion = nas_data.load_fashion_mnist()
    assert fashion.x_train.shape == (60000, 28, 28) and fashion.x_test.shape == (10000, 28, 28)
    assert sorted(set(fashion.y_test)) == list(range(10)) and fashion.x_train.max() == 1.0


def test_a_budget_that_cannot_hold_one_trial_is_refused_at_once(digits):
    model = ImageClassifier(max_trials=2, epochs=500, time_budget=1, **TINY)
    with pytest.raises(sweepml.InvalidParameterError, match="cannot hold one trial"):
        model.fit(digits.x_train[:500], digits.y_train[:500])
    assert not hasattr(model, "study_")  # refused before any trial


def test_a_budget_that_ends_every_trial_still_gives_a_model(digits, monkeypatch):
    # the estimate says a trial fits; the budget then ends it mid-training: the best partly
    # trained architecture is the answer, with a warning, instead of an error after the budget
    monkeypatch.setattr("sweepml.nas.image.seconds_per_epoch", lambda *a, **k: 0.0)
    # 1,000 epochs take minutes; 8 s leaves a loaded machine time to train a first one
    model = ImageClassifier(max_trials=3, epochs=1000, final_epochs=1, time_budget=8, **TINY)
    with pytest.warns(UserWarning, match="no architecture finished its 1000 epochs"):
        model.fit(digits.x_train[:500], digits.y_train[:500])
    assert {t.status for t in model.study_.trials} == {TrialStatus.INTERRUPTED}
    assert model.predict(digits.x_test[:5]).shape == (5,)


def test_the_search_shows_progress_on_a_terminal_by_default():
    assert ImageClassifier().show_progress is None  # None: a bar when stderr is a terminal


UNGUARDED_IMAGES = """
from sweepml.nas import ImageClassifier
from sweepml.nas.data import load_digits

data = load_digits()
model = ImageClassifier(max_trials=2, epochs=1, final_epochs=1, filters=4, batch_size=64,
                        time_budget=120, seed=0)
model.fit(data.x_train[:300], data.y_train[:300])
print("accuracy", model.evaluate(data.x_test[:100], data.y_test[:100])["accuracy"])
"""


def test_an_image_search_at_a_scripts_top_level_runs(run_python):
    done = run_python(UNGUARDED_IMAGES, timeout=300)
    assert "accuracy" in done.stdout and "Traceback" not in done.stderr


def test_without_torch_the_nas_import_names_the_extra(run_python):
    done = run_python(
        "import sys\n"
        "sys.modules['torch'] = None  # as in an install without the nas extra\n"
        "try:\n"
        "    from sweepml.nas import ImageClassifier\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    assert "pip install 'sweepml[nas]'" in done.stdout
