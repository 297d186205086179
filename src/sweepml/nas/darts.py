"""DARTS-style one-shot search (Liu et al. 2019), first order, over the cell spaces.

Every edge (block ``k`` reading input ``j``) runs all operations at once, mixed by the softmax
of its architecture weights ``alpha``; a block sums its incoming edges weighted by the softmax
of ``beta`` (PC-DARTS's edge normalization, standing in for DARTS's "zero" operation, which our
spaces do not have). Each step takes one Adam step of the architecture weights on a validation
batch, then one AdamW step of the network weights on a training batch (first order: the
architecture gradient ignores how the weights would move). After each epoch the cell is
discretized (each block keeps its two strongest edges, edge strength = edge weight times its
best operation's weight, each with its strongest operation; ``comb`` is "add", as DARTS sums)
and recorded as a trial of a core study: value = that child's validation accuracy under the
shared weights.

**The skip-connection collapse guard.** DARTS's architecture weights drift toward parameter-
free skip connections (``identity``) the longer it searches (on NAS-Bench-201 it ends with
all-skip cells); two remedies from the literature, both on by default (``max_skips=2``):

- *a cap* (P-DARTS): a discretized normal cell keeps at most ``max_skips`` stride-1 skips, the
  strongest; the others take their edge's best other operation;
- *early stopping* (DARTS+): the search stops at the end of the first epoch whose uncapped
  cell holds more than ``max_skips`` skips (``info["stopped"]`` says so); its capped cell is
  the answer.

The last trial of the study is DARTS's answer (not the highest value: DARTS trusts its final
weights). With ``checkpoint`` the supernet, the architecture weights and both optimizers are
written after every epoch, and a killed search resumes at the next one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sweepml._validation import check_float, check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.nas.shared import load_checkpoint, save_checkpoint
from sweepml.nas.supernet import Relaxation, Supernet, SupernetMemoryError, space_kind
from sweepml.nas.train import ImageData, resolve_device
from sweepml.space import Space
from sweepml.storage import Storage, open_storage
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy
from sweepml.study import Study, open_study
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["DARTS", "darts_search", "discretize"]

_SKIP = "identity"


@register_strategy("darts")
class DARTS(Strategy):
    """DARTS's settings, for ``ImageClassifier(strategy=DARTS(...))`` and ``darts_search``.

    DARTS proposes no configs to an objective (it trains architecture weights by gradient
    inside one supernet), so ``sweepml.maximize`` cannot run it; it says so and points to
    ``sweepml.nas.darts_search``.

    Args:
        arch_learning_rate, arch_weight_decay: Adam on the architecture weights (DARTS: 3e-4
            and 1e-3 over 50 epochs; ours search a few, hence the larger rate).
        max_skips: the collapse guard's cap on skip connections per normal cell (None: off).
        early_stop: stop once the uncapped cell has more than ``max_skips`` skips (DARTS+).
    """

    def __init__(
        self,
        *,
        arch_learning_rate: float = 3e-3,
        arch_weight_decay: float = 1e-3,
        max_skips: int | None = 2,
        early_stop: bool = True,
    ) -> None:
        super().__init__()
        owner = "DARTS"
        self.arch_learning_rate = check_float(owner, "arch_learning_rate", arch_learning_rate,
                                              minimum=0.0, exclusive_minimum=True)  # fmt: skip
        self.arch_weight_decay = check_float(owner, "arch_weight_decay", arch_weight_decay,
                                             minimum=0.0)  # fmt: skip
        self.max_skips = check_int(owner, "max_skips", max_skips, minimum=0, optional=True)
        self.early_stop = bool(early_stop)

    def _setup(self, space: Space) -> None:
        raise InvalidParameterError(
            "The 'darts' strategy trains architecture weights by gradient inside one supernet; "
            "it proposes no configs for an objective to evaluate. Run it with "
            "sweepml.nas.darts_search(data, space, ...) (it records a study like any search) or "
            "ImageClassifier(strategy='darts')."
        )

    def _ask(self) -> Suggestion | None:  # pragma: no cover - _setup refuses to bind
        return None

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:  # pragma: no cover
        return None


def discretize(
    relaxation: Mapping[str, Relaxation], ops: list[str], *, max_skips: int | None = 2,
    has_comb: bool = False,
) -> tuple[dict[str, Any], dict[str, int]]:  # fmt: skip
    """The config the architecture weights point to, and each cell kind's skip count before
    the cap. Each block keeps its two strongest edges with their strongest operations; in a
    normal cell (``normal`` or the shared ``cell``) at most ``max_skips`` stride-1 skips stay,
    the strongest ones."""
    config: dict[str, Any] = {}
    skips: dict[str, int] = {}
    for kind, weights in relaxation.items():
        chosen: list[tuple[float, int, str, int, torch.Tensor]] = []  # (strength, k, slot, ...)
        for k, (alpha, beta) in enumerate(zip(weights.alpha, weights.beta, strict=True)):
            op_weights = torch.softmax(alpha.detach().float().cpu(), dim=-1)
            edge_weights = torch.softmax(beta.detach().float().cpu(), dim=0)
            strength = edge_weights * op_weights.max(dim=-1).values
            inputs = [int(j) for j in torch.argsort(strength, descending=True)[:2]]
            for slot, j in zip(("1", "2"), inputs, strict=True):
                op = int(op_weights[j].argmax())
                config[f"{kind}{k}_in{slot}"] = j
                config[f"{kind}{k}_op{slot}"] = ops[op]
                # a skip from a reduction cell's input has stride 2: a real operation, not a skip
                if ops[op] == _SKIP and not (kind == "reduce" and j < 2):
                    chosen.append((float(strength[j]), k, slot, j, op_weights[j]))
            if has_comb:
                config[f"{kind}{k}_comb"] = "add"
        skips[kind] = len(chosen)
        if max_skips is not None and kind != "reduce" and len(chosen) > max_skips:
            for _, k, slot, _, op_weights in sorted(chosen, key=lambda c: -c[0])[max_skips:]:
                ranked = [int(o) for o in torch.argsort(op_weights, descending=True)]
                config[f"{kind}{k}_op{slot}"] = next(ops[o] for o in ranked if ops[o] != _SKIP)
    return config, skips


def darts_search(
    data: ImageData,
    space: Space,
    *,
    epochs: int = 10,
    strategy: DARTS | None = None,
    cells: int = 1,
    filters: int = 16,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    device: str = "auto",
    time_budget: float | None = None,
    storage: Storage | str | os.PathLike[str] | None = None,
    study_name: str = "darts",
    checkpoint: str | os.PathLike[str] | None = None,
) -> Study:
    """Run DARTS on ``space`` (``pnas_space`` or ``nasnet_space``) for ``epochs`` epochs of the
    training images; the study's trials are the discretized cells after each epoch and its
    last trial is the answer.

    ``time_budget`` (seconds) stops the search before an epoch that would not fit; one that
    cannot hold a single epoch is an error (it names the epoch's measured cost).

    Example:
        >>> study = darts_search(data, pnas_space(3), epochs=5)  # doctest: +SKIP
        >>> study.trials[-1].config  # doctest: +SKIP
    """
    owner = "darts_search"
    settings_of = strategy if strategy is not None else DARTS()
    if not isinstance(settings_of, DARTS):
        raise InvalidParameterError(
            f"The 'strategy' parameter of {owner} must be a DARTS; got {strategy!r}."
        )
    kind = space_kind(space)
    if kind == "chain":
        raise InvalidParameterError(
            "darts_search relaxes cell spaces (pnas_space, nasnet_space); search a chain space "
            "with a sampling strategy: ImageClassifier(strategy='enas') or SharedWeights with "
            "'enas', 'random' or 'evolution'."
        )
    epochs = check_int(owner, "epochs", epochs, minimum=1)
    batch_size = check_int(owner, "batch_size", batch_size, minimum=1)
    time_budget = check_float(owner, "time_budget", time_budget, minimum=0.0,
                              exclusive_minimum=True, optional=True)  # fmt: skip
    target = resolve_device(device, owner)
    started = time.monotonic()
    settings: dict[str, Any] = {
        "space_kind": kind,
        "input_shape": [int(s) for s in data.x_train.shape[1:]],
        "n_classes": data.n_classes,
        "cells": cells,
        "filters": filters,
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Supernet(space, settings["input_shape"], data.n_classes, cells=cells,
                         filters=filters).to(target)  # fmt: skip
    model.check_memory(batch_size, target, relaxed=True)
    relaxation = model.relaxation()
    arch_params = [t for r in relaxation.values() for t in (*r.alpha, *r.beta)]
    arch_optimizer = torch.optim.Adam(arch_params, lr=settings_of.arch_learning_rate,
                                      betas=(0.5, 0.999),
                                      weight_decay=settings_of.arch_weight_decay)  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    first_epoch = 0
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and path.exists():
        state = load_checkpoint(path, space, settings, "darts")
        model.load_state_dict(state["model"])
        with torch.no_grad():
            for tensor, saved in zip(arch_params, state["architecture"], strict=True):
                tensor.copy_(saved)
        arch_optimizer.load_state_dict(state["arch_optimizer"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        first_epoch = state["epoch"] + 1
    store = open_storage(storage, owner=owner)
    study = open_study(store, study_name, "maximize", space, method="DARTS", seed=seed)
    ops = model.ops
    has_comb = any(name.endswith("_comb") for name in space.all_params)
    x_train, y_train = data.x_train.to(target), data.y_train.to(target)
    x_val, y_val = data.x_val.to(target), data.y_val.to(target)
    epoch_seconds: float | None = None
    val_position = 0
    for epoch in range(first_epoch, epochs):
        if (
            time_budget is not None
            and epoch_seconds is not None
            and (time.monotonic() - started + epoch_seconds > time_budget)
        ):
            break
        epoch_started = time.monotonic()
        order = torch.randperm(len(x_train), generator=generator).to(target)
        losses = []
        for step, start in enumerate(range(0, len(order), batch_size)):
            step_started = time.monotonic()
            # the architecture step, on a validation batch
            stop = min(val_position + batch_size, len(x_val))
            arch_optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(
                _run(model, x_val[val_position:stop], relaxation, batch_size, target),
                y_val[val_position:stop],
            )
            loss.backward()
            arch_optimizer.step()
            val_position = 0 if stop >= len(x_val) else stop
            # the weight step, on a training batch
            batch = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(
                _run(model, x_train[batch], relaxation, batch_size, target), y_train[batch]
            )
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if step == 1 and epoch_seconds is None:  # the second step: past the warm-up
                epoch_seconds = (time.monotonic() - step_started) * steps_per_epoch
                if time_budget is not None and epoch_seconds > time_budget:
                    raise InvalidParameterError(
                        f"time_budget={time_budget:g} s is too small for one epoch of the DARTS "
                        f"supernet: about {epoch_seconds:.0f} s ({steps_per_epoch} steps of "
                        f"{epoch_seconds / steps_per_epoch:.2f} s measured). Raise time_budget "
                        f"to at least {math.ceil(epoch_seconds * 1.2)} s, or search fewer images, "
                        f"filters or blocks."
                    )
        epoch_seconds = time.monotonic() - epoch_started
        config, skips = discretize(relaxation, ops, max_skips=settings_of.max_skips,
                                   has_comb=has_comb)  # fmt: skip
        normal_skips = max((n for k, n in skips.items() if k != "reduce"), default=0)
        collapsed = (
            settings_of.early_stop
            and settings_of.max_skips is not None
            and normal_skips > settings_of.max_skips
        )
        accuracy = _accuracy(model, x_val, y_val, config, batch_size)
        info = {"epoch": epoch, **({"stopped": "skip collapse guard"} if collapsed else {})}
        record = TrialRecord(number=store.reserve_number(study.name), config=config, info=info,
                             started_at=time.time() - epoch_seconds).finish(
            status=TrialStatus.OK,
            value=accuracy,
            metrics={"train_loss": float(np.mean(losses)), "skips": normal_skips,
                     "alpha_entropy": _entropy(relaxation), "seconds": epoch_seconds},
            finished_at=time.time(),
        )  # fmt: skip
        store.add_trial(study.name, record)
        if path is not None:
            save_checkpoint(path, space, settings, "darts", {
                "model": model.state_dict(),
                "architecture": [t.detach().cpu() for t in arch_params],
                "arch_optimizer": arch_optimizer.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "generator": generator.get_state(),
                "epoch": epoch,
            })  # fmt: skip
        if collapsed:
            break
    return study


def _run(model: Supernet, x: torch.Tensor, relaxation: Mapping[str, Relaxation],
         batch_size: int, device: torch.device) -> torch.Tensor:  # fmt: skip
    try:
        return model(x, relaxation=relaxation)  # type: ignore[no-any-return]
    except torch.cuda.OutOfMemoryError:
        peak = torch.cuda.max_memory_allocated(device)
        torch.cuda.empty_cache()
        raise SupernetMemoryError(
            f"The DARTS supernet ran out of memory on {device} at batch size {batch_size} "
            f"after allocating {peak / 2**30:.2f} GiB; lower batch_size, filters or cells."
        ) from None


def _accuracy(model: Supernet, x: torch.Tensor, y: torch.Tensor, config: Mapping[str, Any],
              batch_size: int) -> float:  # fmt: skip
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), 4 * batch_size):
            logits = model(x[start : start + 4 * batch_size], config)
            correct += int((logits.argmax(dim=1) == y[start : start + 4 * batch_size]).sum())
    return correct / max(len(x), 1)


def _entropy(relaxation: Mapping[str, Relaxation]) -> float:
    """Mean entropy (nats) of the operation distributions: near log(#ops) undecided, near 0
    decided."""
    values = []
    for weights in relaxation.values():
        for alpha in weights.alpha:
            p = torch.softmax(alpha.detach().float(), dim=-1)
            values.extend((-(p * p.clamp_min(1e-12).log()).sum(dim=-1)).tolist())
    return float(np.mean(values))
