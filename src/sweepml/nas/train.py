"""Train and evaluate a network with epochs as the budget.

AdamW with a cosine schedule over the epochs; on CUDA automatic mixed precision and
channels_last; on CPU deterministic for a seed (same seed, same machine: same weights). Every
epoch's validation accuracy is reported to the trial (so pruners and reports see the curve);
parameters and FLOPs (one forward pass of one sample, PyTorch's FlopCounterMode) are recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sweepml.exceptions import InvalidParameterError, TrialPruned
from sweepml.nas.build import count_parameters

__all__ = ["Fit", "ImageData", "resolve_device", "seconds_per_epoch", "train"]


@dataclass(frozen=True)
class ImageData:
    """Tensors of a train/validation split: images N x C x H x W (float), labels N (int64)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max()).item()) + 1


@dataclass(frozen=True)
class Fit:
    """What training measured; ``as_metrics()`` is what an objective returns."""

    val_accuracy: float
    train_accuracy: float
    epochs: int
    parameters: int
    flops: int
    seconds: float
    #: training throughput: images through forward + backward per second of the training
    #: steps alone (evaluation passes excluded)
    images_per_second: float = 0.0

    def as_metrics(self) -> dict[str, Any]:
        return {
            "value": self.val_accuracy,
            "train_value": self.train_accuracy,
            "epochs": self.epochs,
            "parameters": self.parameters,
            "flops": self.flops,
            "train_seconds": self.seconds,
            "images_per_second": self.images_per_second,
        }


def _flops(model: nn.Module, sample: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(sample)
    return int(counter.get_total_flops())


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1024) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            logits = model(x[start : start + batch])
            correct += int((logits.argmax(dim=1) == y[start : start + batch]).sum())
    return correct / max(len(x), 1)


def train(
    model: nn.Module,
    data: ImageData,
    *,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    trial: Any = None,
) -> Fit:
    """Train ``model`` for ``epochs`` and measure it; with a ``trial``, report each epoch's
    validation accuracy and stop with ``TrialPruned`` when its pruner says so."""
    target = resolve_device(device)
    try:
        return _train(model, data, epochs, batch_size, learning_rate, seed, target, trial)
    except torch.cuda.OutOfMemoryError as error:
        # free what the trial held so the next trial on this GPU starts clean; MemoryError makes
        # the trial MEMOUT in the record, and the search goes on
        model.to("cpu")
        torch.cuda.empty_cache()
        raise MemoryError(f"CUDA out of memory while training: {error}") from None


def seconds_per_epoch(
    model: nn.Module, data: ImageData, *, batch_size: int, device: str, repeats: int = 2
) -> float:
    """Seconds one training epoch of ``model`` takes here, timed on ``repeats`` forward-backward
    passes after a warm-up one (gradients are discarded: the weights do not change)."""
    target = resolve_device(device)
    model = model.to(target).train()
    x, y = data.x_train[:batch_size].to(target), data.y_train[:batch_size].to(target)
    times = []
    for repeat in range(repeats + 1):
        started = time.perf_counter()
        nn.functional.cross_entropy(model(x), y).backward()
        if target.type == "cuda":
            torch.cuda.synchronize(target)
        if repeat:
            times.append(time.perf_counter() - started)
    model.zero_grad(set_to_none=True)
    steps = (len(data.x_train) + batch_size - 1) // batch_size
    return sum(times) / len(times) * steps


def resolve_device(device: str, owner: str = "train") -> torch.device:
    """``device`` as a torch device: ``"auto"`` is a CUDA GPU when PyTorch sees one, else the
    CPU; ``"cuda"`` without a GPU and anything but cpu/cuda are clear errors."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError):
        target = None
    if target is None or target.type not in ("cpu", "cuda"):
        raise InvalidParameterError(
            f"The 'device' parameter of {owner} must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got "
            f"{device!r}."
        )
    if target.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(
            f"device={device!r} was asked for, but PyTorch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}); use device='auto' or 'cpu'."
        )
    return target


def _train(
    model: nn.Module,
    data: ImageData,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    target: torch.device,
    trial: Any,
) -> Fit:
    torch.manual_seed(seed)
    started = time.perf_counter()
    cuda = target.type == "cuda"
    model = model.to(target)
    if cuda:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    x_train, y_train = data.x_train.to(target), data.y_train.to(target)
    x_val, y_val = data.x_val.to(target), data.y_val.to(target)
    flops = _flops(model, x_train[:1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    steps = max(epochs * ((len(x_train) + batch_size - 1) // batch_size), 1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    generator = torch.Generator().manual_seed(seed)
    stepping = 0.0
    for epoch in range(epochs):
        epoch_started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(target)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(target.type, enabled=cuda):
                loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
        if cuda:
            torch.cuda.synchronize(target)  # kernels run asynchronously: wait before timing
        stepping += time.perf_counter() - epoch_started
        if trial is not None:
            trial.report(epoch, _accuracy(model, x_val, y_val))
            if trial.should_prune():
                raise TrialPruned()
    return Fit(
        val_accuracy=_accuracy(model, x_val, y_val),
        train_accuracy=_accuracy(model, x_train, y_train),
        epochs=epochs,
        parameters=count_parameters(model),
        flops=flops,
        seconds=time.perf_counter() - started,
        images_per_second=epochs * len(x_train) / stepping if stepping > 0 else 0.0,
    )
