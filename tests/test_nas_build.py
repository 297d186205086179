import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sweepml  # noqa: E402
from sweepml.nas import chain_space, mlp_space  # noqa: E402
from sweepml.nas.build import ArchitectureError, build, count_parameters  # noqa: E402
from sweepml.nas.train import ImageData, train  # noqa: E402


def digits(n=600):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x[:n] / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(y[:n])
    return ImageData(x[: n * 2 // 3], y[: n * 2 // 3], x[n * 2 // 3 :], y[n * 2 // 3 :])


def test_every_sampled_chain_builds_or_says_why():
    rng = np.random.default_rng(0)
    built = 0
    for _ in range(20):
        config = chain_space(4).sample(rng)
        try:
            model = build(config, (1, 8, 8), 10)
        except ArchitectureError as error:
            assert "below one pixel" in str(error)
            continue
        assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
        built += 1
    assert built
    pooled = {**chain_space(4).default(), **{f"r{i}": "maxpool" for i in range(1, 5)}}
    with pytest.raises(ArchitectureError, match="Layer 4's reduction shrinks the 8x8 input"):
        build(pooled, (1, 8, 8), 10)  # 8 -> 4 -> 2 -> 1 -> 0


def test_skip_connections_add_inputs_and_the_mlp_space_builds():
    config = {**{f"{k}{i}": v for i in (1, 2, 3) for k, v in (("h", 3), ("w", 3), ("f", 24),
              ("r", "none"))}, "skip3_1": True}  # fmt: skip
    with_skip = build(config, (1, 8, 8), 10)
    without = build({**config, "skip3_1": False}, (1, 8, 8), 10)
    assert count_parameters(with_skip) > count_parameters(without)
    assert with_skip(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    mlp = build(mlp_space().default(), (1, 8, 8), 10)
    assert mlp(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ArchitectureError, match="none of an MLP"):
        build({"x": 1}, (1, 8, 8), 10)


def test_training_is_deterministic_on_cpu_and_learns_digits():
    data = digits()
    config = {"dense": [64], "activation": "relu", "dropout": 0.0}
    fits = [train(build(config, (1, 8, 8), 10, seed=0), data, epochs=30) for _ in range(2)]
    assert fits[0].val_accuracy == fits[1].val_accuracy
    assert fits[0].val_accuracy > 0.8
    assert fits[0].parameters == 64 * 64 + 64 + 64 * 10 + 10
    assert fits[0].flops > 0 and fits[0].images_per_second > 0


def test_a_nas_search_with_epochs_as_the_budget_records_failures_and_curves():
    data = digits(300)

    def objective(config, trial, budget):
        model = build(config, (1, 8, 8), 10, seed=0)  # unbuildable: FAILED with the reason
        return train(model, data, epochs=int(budget), trial=trial).as_metrics()

    study = sweepml.maximize(objective, chain_space(3), seed=0, n_trials=12,
                             strategy=sweepml.Hyperband(min_budget=1, max_budget=3),
                             show_progress=False)  # fmt: skip
    ok = [t for t in study.trials if t.status is sweepml.TrialStatus.OK]
    assert ok and all(len(t.intermediate) == t.budget for t in ok)
    assert all(t.metrics["parameters"] > 0 and t.metrics["flops"] > 0 for t in ok)
    failed = [t for t in study.trials if t.status is sweepml.TrialStatus.FAILED]
    assert all("below one pixel" in t.error for t in failed)


def test_cuda_out_of_memory_becomes_a_memout_and_a_missing_gpu_is_named(monkeypatch):
    data = digits(60)
    model = build({"dense": [8], "activation": "relu", "dropout": 0.0}, (1, 8, 8), 10, seed=0)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "forward", out_of_memory)
    with pytest.raises(MemoryError, match="CUDA out of memory while training"):
        train(model, data, epochs=1)
    if not torch.cuda.is_available():
        with pytest.raises(sweepml.InvalidParameterError, match="sees no CUDA GPU"):
            train(model, data, epochs=1, device="cuda")
    with pytest.raises(sweepml.InvalidParameterError, match="'device' parameter of train"):
        train(model, data, epochs=1, device="gpu0")


def test_sampled_nasnet_cells_build_run_and_train():
    from sweepml.nas.nasnet import make_op
    from sweepml.nas.spaces import NASNET_OPS, nasnet_space

    for name in NASNET_OPS:  # every operation keeps channels; stride 2 halves the image
        for stride, side in ((1, 8), (2, 4)):
            out = make_op(name, 6, stride)(torch.zeros(1, 6, 8, 8))
            assert out.shape == (1, 6, side, side), name
    rng = np.random.default_rng(0)
    for _ in range(6):
        model = build(nasnet_space(3).sample(rng), (1, 8, 8), 10, seed=0, filters=8)
        assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    fit = train(model, digits(150), epochs=1)
    assert fit.parameters > 0 and fit.flops > 0 and 0 <= fit.val_accuracy <= 1
