"""``SharedWeights``: an objective whose children share one supernet's weights.

Each call is one ENAS step on the child ``config``: its reward is its accuracy on the next
validation batch under the shared weights (measured first, so the child is judged by weights
that other children trained), then the shared weights take ``steps_per_trial`` training steps
along that child. Any sampling strategy drives it through ``sweepml.maximize``: ``enas`` (the
LSTM controller, so the children that train the weights are the controller's samples, as in
Pham et al. 2018), ``random`` (Li & Talwalkar 2019's random search with weight sharing),
``evolution``. After the search ``derive`` re-scores the last children on the whole validation
split and returns the best, which is then trained from scratch as a standalone network.

The supernet, its optimizer and the data order are checkpointed to ``checkpoint`` at most every
``checkpoint_every`` seconds (and by ``save``); a killed search resumes from the study's record
(strategy replayed, nothing lost) and the checkpoint (at most ``checkpoint_every`` seconds of
weight training redone).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sweepml._validation import check_float, check_int
from sweepml.exceptions import InvalidParameterError
from sweepml.nas.supernet import Supernet, SupernetMemoryError, space_kind
from sweepml.nas.train import ImageData, resolve_device
from sweepml.space import Space
from sweepml.trial import TrialRecord, TrialStatus

__all__ = ["SharedWeights", "load_checkpoint", "save_checkpoint"]

_FORMAT = "sweepml-supernet-1"


class SharedWeights:
    """A weight-sharing objective for ``sweepml.maximize`` (value: a child's validation-batch
    accuracy under the shared weights).

    Args:
        data: the images (train: trains the shared weights; validation: rewards).
        space: a cell space (``pnas_space``, ``nasnet_space``) or ``chain_space``.
        cells, filters: the supernet's cells per stage and stem channels (cell spaces).
        batch_size, learning_rate: of the shared weights' AdamW steps.
        steps_per_trial: training steps per child (ENAS: one batch per sampled child).
        total_steps: steps of the cosine learning-rate schedule (None: constant rate).
        device, seed: where to train; the seed fixes the initial weights and the data order.
        checkpoint: a file to keep the supernet in; an existing one is resumed.
        checkpoint_every: seconds between checkpoint writes.

    Example:
        >>> import sweepml
        >>> from sweepml.nas import pnas_space
        >>> space = pnas_space(3)
        >>> shared = SharedWeights(data, space)  # doctest: +SKIP
        >>> study = sweepml.maximize(shared, space, strategy="enas",
        ...                          n_trials=2000)  # doctest: +SKIP
        >>> config, accuracy = shared.derive(study)  # doctest: +SKIP
    """

    #: the ``enas`` strategy insists on an objective that says this
    shares_weights = True
    __name__ = "shared_weights"

    def __init__(
        self,
        data: ImageData,
        space: Space,
        *,
        cells: int = 1,
        filters: int = 16,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        steps_per_trial: int = 1,
        total_steps: int | None = None,
        device: str = "auto",
        seed: int = 0,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: float = 30.0,
    ) -> None:
        owner = "SharedWeights"
        if not isinstance(data, ImageData):
            raise InvalidParameterError(
                f"The 'data' parameter of {owner} must be an ImageData (train and validation "
                f"tensors); got {type(data).__name__}."
            )
        if not isinstance(space, Space):
            raise InvalidParameterError(
                f"The 'space' parameter of {owner} must be a Space; got {space!r}."
            )
        self.kind = space_kind(space)
        self.data, self.space = data, space
        self.batch_size = check_int(owner, "batch_size", batch_size, minimum=1)
        self.steps_per_trial = check_int(owner, "steps_per_trial", steps_per_trial, minimum=1)
        self.total_steps = check_int(owner, "total_steps", total_steps, minimum=1, optional=True)
        self.checkpoint_every = check_float(owner, "checkpoint_every", checkpoint_every,
                                            minimum=0.0)  # fmt: skip
        self.seed = check_int(owner, "seed", seed, minimum=0)
        learning_rate = check_float(owner, "learning_rate", learning_rate, minimum=0.0,
                                    exclusive_minimum=True)  # fmt: skip
        self.device = resolve_device(device, owner)
        self.settings: dict[str, Any] = {
            "space_kind": self.kind,
            "input_shape": [int(s) for s in data.x_train.shape[1:]],
            "n_classes": data.n_classes,
            "cells": check_int(owner, "cells", cells, minimum=1),
            "filters": check_int(owner, "filters", filters, minimum=2),
        }
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model = Supernet(space, self.settings["input_shape"], data.n_classes,
                                  cells=cells, filters=filters).to(self.device)  # fmt: skip
        self.memory_bytes = self.model.check_memory(
            self.batch_size, self.device, relaxed=False,
            sample=space.sample(np.random.default_rng(self.seed)),
        )  # fmt: skip
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=learning_rate,
                                           weight_decay=1e-4)  # fmt: skip
        self.schedule = (
            None
            if self.total_steps is None
            else torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=self.total_steps)
        )
        self.x_train, self.y_train = data.x_train.to(self.device), data.y_train.to(self.device)
        self.x_val, self.y_val = data.x_val.to(self.device), data.y_val.to(self.device)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.order = torch.randperm(len(self.x_train), generator=self.generator)
        self.position = 0
        self.val_position = 0
        self.step = 0
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self._saved_at = time.monotonic()
        if self.checkpoint is not None and self.checkpoint.exists():
            self._restore(load_checkpoint(self.checkpoint, space, self.settings, "shared"))

    # -- the objective ----------------------------------------------------------------------
    @property
    def epoch(self) -> float:
        """Training epochs the shared weights have seen."""
        return self.step * self.batch_size / len(self.x_train)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.x_train) / self.batch_size)

    def __call__(self, config: Mapping[str, Any]) -> dict[str, Any]:
        reward = self._reward(config)
        losses = [self._train_step(config) for _ in range(self.steps_per_trial)]
        if self.checkpoint is not None and (
            time.monotonic() - self._saved_at >= self.checkpoint_every
        ):
            self.save()
        return {"value": reward, "train_loss": float(np.mean(losses)), "step": self.step,
                "epoch": round(self.epoch, 4)}  # fmt: skip

    def _reward(self, config: Mapping[str, Any]) -> float:
        start = self.val_position
        stop = min(start + self.batch_size, len(self.x_val))
        self.val_position = 0 if stop >= len(self.x_val) else stop
        with torch.no_grad():
            logits = self._forward(self.x_val[start:stop], config)
        return float((logits.argmax(dim=1) == self.y_val[start:stop]).float().mean())

    def _next_batch(self) -> torch.Tensor:
        if self.position >= len(self.order):
            self.order = torch.randperm(len(self.x_train), generator=self.generator)
            self.position = 0
        batch = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch.to(self.device)

    def _train_step(self, config: Mapping[str, Any]) -> float:
        batch = self._next_batch()
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self._forward(self.x_train[batch], config),
                                           self.y_train[batch])  # fmt: skip
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        if self.schedule is not None and self.step < (self.total_steps or 0):
            self.schedule.step()
        self.step += 1
        return float(loss.detach())

    def _forward(self, x: torch.Tensor, config: Mapping[str, Any]) -> torch.Tensor:
        try:
            return self.model(x, config)  # type: ignore[no-any-return]
        except torch.cuda.OutOfMemoryError:
            peak = torch.cuda.max_memory_allocated(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            raise SupernetMemoryError(
                f"The supernet ran out of memory on {self.device} at batch size "
                f"{self.batch_size}: it had allocated {peak / 2**30:.2f} GiB (estimated need "
                f"{self.memory_bytes / 2**30:.2f} GiB). Lower batch_size, filters or cells."
            ) from None

    # -- after the search -------------------------------------------------------------------
    def evaluate(self, config: Mapping[str, Any]) -> float:
        """``config``'s accuracy on the whole validation split under the shared weights."""
        correct = 0
        with torch.no_grad():
            for start in range(0, len(self.x_val), 4 * self.batch_size):
                stop = start + 4 * self.batch_size
                logits = self._forward(self.x_val[start:stop], config)
                correct += int((logits.argmax(dim=1) == self.y_val[start:stop]).sum())
        return correct / max(len(self.x_val), 1)

    def derive(self, trials: Any, *, candidates: int = 100) -> tuple[dict[str, Any], float]:
        """ENAS's last step: re-score the distinct children among the last ``candidates``
        finished trials (the controller's latest samples; ``trials``: a Study or its records)
        on the whole validation split; the best config and its accuracy."""
        check_int("SharedWeights.derive", "candidates", candidates, minimum=1)
        records: Sequence[TrialRecord] = getattr(trials, "trials", trials)
        configs: list[dict[str, Any]] = []
        for record in reversed(list(records)):
            if record.status is TrialStatus.OK and dict(record.config) not in configs:
                configs.append(dict(record.config))
            if len(configs) >= candidates:
                break
        if not configs:
            raise InvalidParameterError(
                "SharedWeights.derive found no finished trial to re-score; run the search first."
            )
        scored = [(self.evaluate(config), -i, config) for i, config in enumerate(configs)]
        accuracy, _, config = max(scored, key=lambda item: (item[0], item[1]))
        return config, accuracy

    def seconds_per_epoch(self, repeats: int = 2) -> float:
        """One epoch's seconds, timed on ``repeats`` forward-backward passes of sampled children
        (after one warm-up pass). Gradients are discarded: the weights do not change."""
        rng = np.random.default_rng(self.seed + 1)
        batch = self.order[: self.batch_size].to(self.device)
        times = []
        for repeat in range(repeats + 1):
            config = self.space.sample(rng)
            started = time.perf_counter()
            loss = nn.functional.cross_entropy(self._forward(self.x_train[batch], config),
                                               self.y_train[batch])  # fmt: skip
            loss.backward()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            if repeat:
                times.append(time.perf_counter() - started)
        self.optimizer.zero_grad(set_to_none=True)
        return float(np.mean(times)) * self.steps_per_epoch * self.steps_per_trial

    # -- checkpoints ------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint now (when one was given)."""
        if self.checkpoint is None:
            return
        save_checkpoint(self.checkpoint, self.space, self.settings, "shared", {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": None if self.schedule is None else self.schedule.state_dict(),
            "generator": self.generator.get_state(),
            "order": self.order,
            "position": self.position,
            "val_position": self.val_position,
            "step": self.step,
        })  # fmt: skip
        self._saved_at = time.monotonic()

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None and state["schedule"] is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.generator.set_state(state["generator"])
        self.order = state["order"]
        self.position, self.val_position = state["position"], state["val_position"]
        self.step = state["step"]


def save_checkpoint(path: Path, space: Space, settings: Mapping[str, Any], method: str,
                    state: Mapping[str, Any]) -> None:  # fmt: skip
    """Write ``state`` with what it belongs to (space, supernet settings, method), atomically:
    a kill mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"format": _FORMAT, "space": space.to_dict(), "settings": dict(settings),
                "method": method, **state}, partial)  # fmt: skip
    os.replace(partial, path)


def load_checkpoint(path: Path, space: Space, settings: Mapping[str, Any],
                    method: str) -> dict[str, Any]:  # fmt: skip
    """A checkpoint's state, after checking that it belongs to this space, these supernet
    settings and this method (a clear error otherwise: resuming needs all three the same).

    Read with ``weights_only=True``: tensors, numbers, strings and containers only, never a
    pickled object, so a file planted beside the storage cannot run code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same answer
        raise InvalidParameterError(
            f"The checkpoint {path} cannot be read ({type(error).__name__}: {error}); delete "
            f"it or pass another path to start afresh."
        ) from None
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise InvalidParameterError(f"{path} is not a sweepml supernet checkpoint.")
    if Space.from_json_dict(state["space"]) != space:
        raise InvalidParameterError(
            f"The checkpoint {path} holds a supernet of another space (a "
            f"{state['settings'].get('space_kind')!r} space of "
            f"{len(Space.from_json_dict(state['space']).all_params)} parameters; this one: "
            f"{space_kind(space)!r}, {len(space.all_params)}); resuming needs the same space. Pass "
            f"the space it was searched with, or another checkpoint path to start afresh."
        )
    differing = {key: (state["settings"].get(key), value) for key, value in settings.items()
                 if state["settings"].get(key) != value}  # fmt: skip
    if differing:
        described = ", ".join(
            f"{key}: checkpoint {old!r}, now {new!r}" for key, (old, new) in differing.items()
        )
        raise InvalidParameterError(
            f"The checkpoint {path} was written for another supernet ({described}); resume "
            f"with the same settings or pass another checkpoint path."
        )
    if state.get("method") != method:
        raise InvalidParameterError(
            f"The checkpoint {path} belongs to a {state.get('method')!r} search, not a "
            f"{method!r} one; pass another checkpoint path."
        )
    return state
