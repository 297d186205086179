"""Weight-sharing NAS: the supernet, ENAS through the study API, DARTS, and their bad inputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sweepml  # noqa: E402
from sweepml.exceptions import InvalidParameterError  # noqa: E402
from sweepml.nas import supernet as supernet_module  # noqa: E402
from sweepml.nas.build import ArchitectureError  # noqa: E402
from sweepml.nas.darts import DARTS, darts_search, discretize  # noqa: E402
from sweepml.nas.image import ImageClassifier  # noqa: E402
from sweepml.nas.shared import SharedWeights  # noqa: E402
from sweepml.nas.spaces import chain_space, nasnet_space, pnas_space  # noqa: E402
from sweepml.nas.supernet import Relaxation, Supernet, SupernetMemoryError  # noqa: E402
from sweepml.nas.train import ImageData  # noqa: E402
from sweepml.trial import TrialStatus  # noqa: E402

SPACE = pnas_space(2)
SMALL = {"filters": 4, "batch_size": 32, "seed": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    """Digits as ImageData: 8 x 8 images, 320 to train, 96 to validate."""
    from sweepml.nas.data import load_digits

    split = load_digits()
    x = torch.tensor((split.x_train[:416, None] - 8.0) / 6.0, dtype=torch.float32)
    y = torch.tensor(split.y_train[:416], dtype=torch.int64)
    return ImageData(x[:320], y[:320], x[320:], y[320:])


# -- the supernet -------------------------------------------------------------------------------
@pytest.mark.parametrize("space", [pnas_space(2), nasnet_space(2), chain_space(3)],
                         ids=["pnas", "nasnet", "chain"])  # fmt: skip
def test_every_child_runs_on_the_shared_weights_and_trains_them(space):
    torch.manual_seed(0)
    net = Supernet(space, (1, 8, 8), 10, filters=4)
    config = space.sample(np.random.default_rng(1))
    logits = net(torch.randn(4, 1, 8, 8), config)
    assert logits.shape == (4, 10)
    logits.sum().backward()
    trained = [p for p in net.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert trained
    if net.kind != "chain":  # the edges and operations the child does not use stay untouched
        assert len(trained) < len(list(net.parameters()))


def test_the_relaxed_supernet_sends_gradients_to_the_architecture_weights():
    net = Supernet(SPACE, (1, 8, 8), 10, filters=4)
    relaxation = net.relaxation()
    net(torch.randn(4, 1, 8, 8), relaxation=relaxation).logsumexp(1).sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in relaxation["cell"].alpha)
    child = SPACE.sample(np.random.default_rng(0))
    assert net.memory_needed(32, None, relaxation) > net.memory_needed(32, child)


def test_a_chain_child_that_shrinks_below_one_pixel_is_an_architecture_error():
    space = chain_space(3, skips=False)
    config = {**space.sample(np.random.default_rng(0)), "r1": "maxpool", "r2": "maxpool",
              "r3": "maxpool"}  # fmt: skip
    with pytest.raises(ArchitectureError, match="below one pixel"):
        Supernet(space, (1, 4, 4), 10)(torch.randn(2, 1, 4, 4), config)


def test_a_supernet_too_big_for_the_device_names_the_memory_it_needs(data, monkeypatch):
    monkeypatch.setattr(supernet_module, "free_memory", lambda device: 1024)
    with pytest.raises(SupernetMemoryError, match=r"needs about .* GiB .* has 0.00 GiB free"):
        SharedWeights(data, SPACE, **SMALL)
    with pytest.raises(MemoryError, match="every operation"):
        darts_search(data, SPACE, epochs=1, filters=4, batch_size=32, device="cpu")


# -- ENAS through the study API -----------------------------------------------------------------
def _enas(data, n_trials=12, **kw):
    shared = SharedWeights(data, SPACE, **SMALL, **kw)
    study = sweepml.maximize(shared, SPACE, strategy="enas", n_trials=n_trials, seed=3,
                             executor="serial", storage=kw.pop("storage", None))  # fmt: skip
    return shared, study


def test_enas_runs_through_maximize_one_child_per_batch_and_repeats_for_a_seed(data):
    shared, study = _enas(data)
    again, study_again = _enas(data)
    assert [t.config for t in study.trials] == [t.config for t in study_again.trials]
    assert [t.value for t in study.trials] == [t.value for t in study_again.trials]
    assert shared.step == 12 and study.trials[-1].metrics["step"] == 12
    assert all(t.status is TrialStatus.OK and 0 <= t.value <= 1 for t in study.trials)
    config, accuracy = shared.derive(study, candidates=5)
    assert SPACE.contains(config) and 0 <= accuracy <= 1
    assert config in [t.config for t in study.trials[-5:]]


def test_enas_refuses_an_objective_that_does_not_share_weights():
    with pytest.raises(InvalidParameterError, match="SharedWeights"):
        sweepml.maximize(lambda config: 0.5, SPACE, strategy="enas", n_trials=2)


def test_a_killed_enas_search_resumes_from_the_record_and_the_checkpoint(data, tmp_path):
    storage, checkpoint = str(tmp_path / "s.db"), tmp_path / "s.pt"
    first = SharedWeights(data, SPACE, **SMALL, checkpoint=checkpoint, checkpoint_every=0)
    sweepml.maximize(first, SPACE, strategy="enas", n_trials=6, seed=3, storage=storage)
    weights = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = SharedWeights(data, SPACE, **SMALL, checkpoint=checkpoint)
    assert second.step == 6
    for key, value in second.model.state_dict().items():
        assert torch.equal(value, weights[key])
    study = sweepml.maximize(second, SPACE, strategy="enas", n_trials=10, seed=3,
                             storage=storage)  # fmt: skip
    assert len(study.trials) == 10 and second.step == 10


def test_a_checkpoint_of_another_space_or_method_is_refused(data, tmp_path):
    checkpoint = tmp_path / "s.pt"
    SharedWeights(data, SPACE, **SMALL, checkpoint=checkpoint).save()
    with pytest.raises(InvalidParameterError, match="another space"):
        SharedWeights(data, pnas_space(3), **SMALL, checkpoint=checkpoint)
    with pytest.raises(InvalidParameterError, match="filters: checkpoint 4, now 6"):
        SharedWeights(data, SPACE, **{**SMALL, "filters": 6}, checkpoint=checkpoint)
    with pytest.raises(InvalidParameterError, match="'shared' search, not a 'darts'"):
        darts_search(data, SPACE, epochs=1, filters=4, batch_size=32, device="cpu",
                     checkpoint=checkpoint)  # fmt: skip


def test_random_search_with_weight_sharing_is_the_same_objective_with_another_strategy(data):
    shared = SharedWeights(data, chain_space(3), **SMALL)
    study = sweepml.maximize(shared, chain_space(3), strategy="random", n_trials=6, seed=0)
    assert len({str(t.config) for t in study.trials}) == 6 and shared.step == 6


# -- DARTS ------------------------------------------------------------------------------------
def _relaxation(skip_first: bool) -> dict[str, Relaxation]:
    ops = list(SPACE.all_params["cell0_op1"].values)
    alphas, betas = [], []
    for k in range(2):
        alpha = torch.zeros(k + 2, len(ops))
        alpha[:, ops.index("identity")] = 3.0 if skip_first else 0.0
        alpha[:, ops.index("sep_conv_3x3")] = 2.0
        alphas.append(alpha)
        betas.append(torch.arange(k + 2, dtype=torch.float32))
    return {"cell": Relaxation(alphas, betas)}


def test_discretize_keeps_two_strongest_edges_and_caps_the_skips():
    ops = list(SPACE.all_params["cell0_op1"].values)
    config, skips = discretize(_relaxation(skip_first=True), ops, max_skips=1)
    assert skips == {"cell": 4} and SPACE.contains(config)
    assert [config[f"cell{k}_op{s}"] for k in range(2) for s in "12"].count("identity") == 1
    assert (config["cell1_in1"], config["cell1_in2"]) == (2, 1)  # the strongest edges (beta)
    uncapped, _ = discretize(_relaxation(skip_first=True), ops, max_skips=None)
    assert all(uncapped[f"cell{k}_op{s}"] == "identity" for k in range(2) for s in "12")


def test_darts_records_each_epoch_as_a_trial_and_resumes_from_its_checkpoint(data, tmp_path):
    kw = {"filters": 4, "batch_size": 64, "device": "cpu", "storage": str(tmp_path / "d.db"),
          "checkpoint": tmp_path / "d.pt"}  # fmt: skip
    study = darts_search(data, SPACE, epochs=1, **kw)
    assert len(study.trials) == 1 and SPACE.contains(study.trials[0].config)
    assert {"skips", "alpha_entropy", "train_loss"} <= set(study.trials[0].metrics)
    study = darts_search(data, SPACE, epochs=2, **kw)  # resumes at epoch 1
    assert [t.info["epoch"] for t in study.trials] == [0, 1]
    assert study.trials[1].metrics["alpha_entropy"] < study.trials[0].metrics["alpha_entropy"]


def test_darts_stops_early_when_its_cell_collapses_to_skips(data):
    # with no skip allowed, the first epoch whose argmax cell holds one stops the search
    study = darts_search(data, SPACE, epochs=3, strategy=DARTS(max_skips=0), filters=4,
                         batch_size=64, device="cpu")  # fmt: skip
    last = study.trials[-1]
    assert len(study.trials) < 3 and last.metrics["skips"] > 0
    assert last.info["stopped"] == "skip collapse guard"
    assert "identity" not in [last.config[f"cell{k}_op{s}"] for k in range(2) for s in "12"]


def test_darts_is_refused_by_maximize_and_for_chain_spaces(data):
    with pytest.raises(InvalidParameterError, match="darts_search"):
        sweepml.maximize(lambda config: 0.0, SPACE, strategy="darts", n_trials=1)
    with pytest.raises(InvalidParameterError, match="cell spaces"):
        darts_search(data, chain_space(3), epochs=1)


def test_a_time_budget_too_small_for_one_supernet_epoch_is_refused(data, digits_images):
    x, y = digits_images
    with pytest.raises(InvalidParameterError, match="too small for one epoch"):
        ImageClassifier(strategy="enas", time_budget=1e-4, space=SPACE, **SMALL).fit(x, y)
    with pytest.raises(InvalidParameterError, match="too small for one epoch"):
        darts_search(data, SPACE, epochs=1, filters=4, batch_size=8, device="cpu",
                     time_budget=1e-4)  # fmt: skip


# -- ImageClassifier ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_images():
    from sweepml.nas.data import load_digits

    split = load_digits()
    return split.x_train[:400], split.y_train[:400]


@pytest.mark.parametrize("strategy", ["enas", "darts"])
def test_image_classifier_searches_with_weight_sharing_then_trains_the_answer(
    strategy, digits_images
):
    x, y = digits_images
    model = ImageClassifier(strategy=strategy, space=SPACE, epochs=2, final_epochs=2,
                            max_trials=4, **SMALL).fit(x, y)  # fmt: skip
    assert SPACE.contains(model.best_config_)
    n_batches = int(np.ceil(320 / 32))
    expected = 2 * n_batches if strategy == "enas" else 2
    assert len(model.study_.trials) == expected
    assert model.predict(x[:10]).shape == (10,)


def test_image_classifier_rejects_weight_sharing_with_strategies_that_train_each_child():
    with pytest.raises(InvalidParameterError, match="one child per batch"):
        ImageClassifier(strategy="pnas", weight_sharing=True)
