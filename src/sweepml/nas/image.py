"""``ImageClassifier``: architecture search for images in the manner of Auto-Keras.

``fit`` holds out ``validation_split`` of the images, searches architectures of the chosen space
with the chosen strategy (each trial builds a network and trains it for ``epochs``, reporting
its validation accuracy per epoch), then trains the best architecture again from scratch on all
the images for ``final_epochs``. Images are standardized with the training pixels' mean and
standard deviation, which are kept with the model.

With weight sharing (``enas``, ``darts``, ``weight_sharing=True``) the children are parts of one
supernet instead (``shared.py``, ``darts.py``), and the chosen one is trained from scratch the
same way.

The search runs trials one at a time in this process (``executor="serial"``): one network
already uses every core of a CPU or the whole GPU, and the images need not be copied to worker
processes. ``time_budget`` bounds the search; the final training comes after it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from sweepml._validation import check_bool, check_float, check_int, param_error
from sweepml.exceptions import InvalidParameterError, SweepmlError
from sweepml.nas.build import build
from sweepml.nas.darts import DARTS, darts_search
from sweepml.nas.enas import ENAS
from sweepml.nas.pnas import PNAS
from sweepml.nas.shared import SharedWeights
from sweepml.nas.spaces import chain_space, nasnet_space, pnas_space
from sweepml.nas.train import ImageData, resolve_device, seconds_per_epoch, train
from sweepml.space import Space
from sweepml.strategies import ASHA, BOHB, Hyperband, Strategy, SuccessiveHalving
from sweepml.trial import TrialStatus

__all__ = ["ImageClassifier"]

_SPACES = {
    "pnas": lambda: pnas_space(3),
    "nasnet": lambda: nasnet_space(3),
    "chain": lambda: chain_space(4),
}
_FIDELITY: dict[str, type[Strategy]] = {
    "hyperband": Hyperband,
    "bohb": BOHB,
    "asha": ASHA,
    "successive_halving": SuccessiveHalving,
}
_FORMATS = ("onnx", "pt2", "mlflow")


class ImageClassifier:
    """Search an image classifier's architecture, then train the best one on all the data.

    Args:
        max_trials: architectures to train during the search. With weight sharing: how many of
            the last sampled children are re-scored on the validation split to pick the answer.
        time_budget: seconds for the search (None: no limit).
        strategy: a strategy name (``random``, ``evolution``, ``reinforce``, ``pnas``, ``tpe``,
            or a multi-fidelity one: ``hyperband``, ``bohb``, ``asha``, whose budget is the
            epochs), a weight-sharing one (``enas``, ``darts``) or a Strategy (``DARTS(...)``
            for DARTS's settings).
        weight_sharing: train the children as parts of one supernet (one batch each) instead
            of one by one; implied by ``enas`` and ``darts``; with ``random`` it is Li &
            Talwalkar's random search with weight sharing. ``epochs`` then counts supernet
            epochs, and the chosen architecture is trained from scratch afterwards.
        space: ``"pnas"`` (a 3-block PNAS cell), ``"nasnet"`` (3-block normal and reduction
            cells), ``"chain"`` (4 convolution layers with skips) or a Space of those kinds.
        epochs: training epochs of each searched architecture (the largest budget); with
            weight sharing, the supernet's training epochs.
        final_epochs: epochs of the final training on all the data (default: ``2 * epochs``).
        search_size: search on a random sample of at most this many images (a proxy task, as
            NASNet searched on CIFAR-10 for ImageNet); the final training uses all of them.
        filters, cells: a cell network's stem channels (F) and cells per stage (N).
        batch_size, learning_rate: of every training.
        seed: makes the search and the trainings repeatable (on CPU).
        device: ``"auto"`` (a CUDA GPU when PyTorch sees one, else the CPU), ``"cpu"``,
            ``"cuda"`` or ``"cuda:N"``.
        storage: where the search's trials are recorded (a SQLite path keeps them).
        show_progress: a progress bar of the search; default on when stderr is a terminal.

    With a ``time_budget``, ``fit`` first times one training epoch of the space's default
    architecture and stops at once when the budget cannot hold one trial; when the budget ends
    every trial before it finishes, the best partly trained architecture is the answer (with a
    warning), so a budgeted fit always ends with a model.

    Example:
        >>> from sweepml.nas.data import load_digits
        >>> data = load_digits()
        >>> model = ImageClassifier(max_trials=3, epochs=2, seed=0)  # doctest: +SKIP
        >>> model.fit(data.x_train, data.y_train)  # doctest: +SKIP
        >>> model.evaluate(data.x_test, data.y_test)["accuracy"]  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        max_trials: int = 10,
        time_budget: float | None = None,
        strategy: str | Strategy = "evolution",
        space: str | Space = "pnas",
        weight_sharing: bool = False,
        epochs: int = 5,
        final_epochs: int | None = None,
        search_size: int | None = None,
        filters: int = 16,
        cells: int = 1,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        seed: int | None = None,
        device: str = "auto",
        storage: str | None = None,
        show_progress: bool | None = None,
    ) -> None:
        owner = "ImageClassifier"
        self.max_trials = check_int(owner, "max_trials", max_trials, minimum=1)
        self.time_budget = check_float(
            owner, "time_budget", time_budget, minimum=0.0, exclusive_minimum=True, optional=True
        )
        self.strategy = strategy
        self.weight_sharing = check_bool(owner, "weight_sharing", weight_sharing)
        if self.weight_sharing and (strategy == "pnas" or isinstance(strategy, PNAS)
                                    or strategy in _FIDELITY):  # fmt: skip
            raise InvalidParameterError(
                f"ImageClassifier(weight_sharing=True) samples one child per batch; "
                f"strategy={strategy!r} needs each child trained on its own. Use 'enas', "
                f"'random' or 'evolution' with weight sharing."
            )
        if isinstance(space, str) and space not in _SPACES:
            raise param_error(owner, "space", f"one of {sorted(_SPACES)} or a Space", space)
        if not isinstance(space, str | Space):
            raise param_error(owner, "space", f"one of {sorted(_SPACES)} or a Space", space)
        self.space = space
        self.epochs = check_int(owner, "epochs", epochs, minimum=1)
        self.final_epochs = check_int(owner, "final_epochs", final_epochs, minimum=1, optional=True)
        self.search_size = check_int(owner, "search_size", search_size, minimum=2, optional=True)
        self.filters = check_int(owner, "filters", filters, minimum=2)
        self.cells = check_int(owner, "cells", cells, minimum=1)
        self.batch_size = check_int(owner, "batch_size", batch_size, minimum=1)
        self.learning_rate = check_float(
            owner, "learning_rate", learning_rate, minimum=0.0, exclusive_minimum=True
        )
        self.seed = seed
        self.device = str(resolve_device(device, owner))
        self.storage = storage
        self.show_progress = check_bool(owner, "show_progress", show_progress, optional=True)

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, x: Any, y: Any = None, *, validation_split: float = 0.2) -> ImageClassifier:
        """Search architectures on ``x``/``y`` and train the best on all of it.

        ``x``: images N x H x W or N x H x W x C (channels last, as Auto-Keras takes them), or
        a torch Dataset of (image, label) pairs whose images are H x W or C x H x W tensors
        (``y`` then stays None). ``y``: N labels of any kind (ints, strings).
        """
        given, labels = _examples(x, y)
        images = _scaled(given)
        self.pixels_ = "8-bit" if np.issubdtype(given.dtype, np.integer) else "float"
        if not 0.0 < validation_split < 1.0:
            raise param_error("ImageClassifier.fit", "validation_split", "a float in (0, 1)",
                              validation_split)  # fmt: skip
        self.classes_, codes = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise InvalidParameterError(
                f"ImageClassifier.fit needs at least two classes in y; got only "
                f"{self.classes_.tolist()}."
            )
        searched = len(images) if self.search_size is None else min(len(images), self.search_size)
        n_val = max(1, int(round(searched * validation_split)))
        if searched - n_val < 1:
            raise InvalidParameterError(
                f"ImageClassifier.fit needs more images: {searched} leave none for training "
                f"with validation_split={validation_split}."
            )
        self.input_shape_ = tuple(int(s) for s in images.shape[1:])
        self.mean_ = images.mean(axis=(0, 2, 3)).astype(np.float32)
        self.std_ = (images.std(axis=(0, 2, 3)) + 1e-6).astype(np.float32)
        order = np.random.default_rng(self.seed).permutation(len(images))
        x_all = self._tensor(images[order])
        y_all = torch.as_tensor(codes[order], dtype=torch.int64)
        # the first n_val shuffled images validate the search; the next ones train it
        data = ImageData(x_all[n_val:searched], y_all[n_val:searched], x_all[:n_val], y_all[:n_val])
        space = _SPACES[self.space]() if isinstance(self.space, str) else self.space
        n_classes = len(self.classes_)
        seed = 0 if self.seed is None else self.seed
        if isinstance(self.strategy, DARTS) or self.strategy == "darts":
            self._search_darts(space, data, seed)
        elif self._shares_weights():
            self._search_shared(space, data, seed)
        else:
            self._search_trained(space, data, n_classes, seed)
        # all images train the final network; fit_.val_accuracy is then measured on images it
        # trained on (the held-out figure is search_accuracy_, or evaluate() on new images)
        everything = ImageData(x_all, y_all, data.x_val, data.y_val)
        self.model_ = self._build(self.best_config_, n_classes, seed)
        self.fit_ = train(self.model_, everything, epochs=self.final_epochs or 2 * self.epochs,
                          batch_size=self.batch_size, learning_rate=self.learning_rate,
                          seed=seed, device=self.device)  # fmt: skip
        self.model_.eval()
        return self

    def _search_trained(self, space: Space, data: ImageData, n_classes: int, seed: int) -> None:
        """Train every searched architecture on its own for ``epochs``."""
        import sweepml

        strategy = self.strategy
        if strategy == "pnas" and isinstance(self.space, str) and self.space == "pnas":
            strategy = PNAS(beam=max(1, self.max_trials // 3))  # all three levels get trained
        if isinstance(strategy, str) and strategy in _FIDELITY:  # epochs are the budget
            if self.epochs < 2:
                raise InvalidParameterError(
                    f"The {strategy!r} strategy of ImageClassifier trains for 1 to 'epochs' "
                    f"epochs; it needs epochs >= 2, got {self.epochs}."
                )
            strategy = _FIDELITY[strategy](min_budget=1, max_budget=self.epochs)  # type: ignore[call-arg]

        def objective(config: dict[str, Any], trial: Any, budget: float | None = None) -> dict:
            model = self._build(config, n_classes, seed)
            epochs = self.epochs if budget is None else max(1, int(round(budget)))
            return train(model, data, epochs=epochs, batch_size=self.batch_size,
                         learning_rate=self.learning_rate, seed=seed, device=self.device,
                         trial=trial).as_metrics()  # fmt: skip

        if self.time_budget is not None:  # a multi-fidelity trial may stop after min_budget
            fewest = getattr(strategy, "min_budget", self.epochs)
            self._check_budget_holds_a_trial(space, data, n_classes, seed,
                                             max(1, int(round(fewest))))  # fmt: skip
        self.study_ = sweepml.maximize(
            objective, space, strategy=strategy, n_trials=self.max_trials,
            time_budget=self.time_budget, seed=self.seed, executor="serial",
            storage=self.storage, show_progress=self.show_progress,
        )  # fmt: skip
        trials = self.study_.trials
        finished = [t for t in trials if t.status is TrialStatus.OK and t.value is not None]
        if finished:
            best = self.study_.best
            self.best_config_ = dict(best.config)
            self.search_accuracy_ = float(best.value or 0.0)
            return
        partial = [t for t in trials if t.status is TrialStatus.INTERRUPTED and t.intermediate]
        if not partial:
            errors = {t.error.strip().splitlines()[-1] for t in trials if t.error}
            raise SweepmlError(
                f"No architecture could be trained in {len(trials)} trials; the errors were: "
                f"{sorted(errors)[:3]}."
            )
        # the time budget ended every trial early: the best partly trained one is the answer
        chosen = max(partial, key=lambda t: t.intermediate[-1][1])
        epoch, accuracy = chosen.intermediate[-1]
        warnings.warn(
            f"ImageClassifier.fit: no architecture finished its {self.epochs} epochs within "
            f"time_budget={self.time_budget:g} s; the best partly trained one (validation "
            f"accuracy {accuracy:.4f} after {epoch + 1} epochs) is trained as the answer. Raise "
            f"time_budget, or lower epochs or search_size, for a real search.",
            UserWarning,
            stacklevel=3,
        )
        self.best_config_ = dict(chosen.config)
        self.search_accuracy_ = float(accuracy)

    def _check_budget_holds_a_trial(self, space: Space, data: ImageData, n_classes: int,
                                    seed: int, epochs: int) -> None:  # fmt: skip
        """Say at once, before searching, when ``time_budget`` cannot hold one trial."""
        assert self.time_budget is not None
        model = self._build(space.default(), n_classes, seed)
        epoch = seconds_per_epoch(model, data, batch_size=self.batch_size, device=self.device)
        if epoch * epochs > self.time_budget:
            raise InvalidParameterError(
                f"time_budget={self.time_budget:g} s cannot hold one trial: training one "
                f"architecture for {epochs} epoch{'s' if epochs > 1 else ''} takes at least "
                f"{epoch * epochs:.0f} s here (timed on the default architecture, "
                f"{len(data.x_train)} training images). Raise time_budget to at least "
                f"{math.ceil(epoch * epochs * 1.5)} s, or lower epochs, search_size, filters or "
                f"batch_size."
            )

    def _shares_weights(self) -> bool:
        return self.weight_sharing or self.strategy == "enas" or isinstance(self.strategy, ENAS)

    def _checkpoint(self) -> Path | None:
        """Beside a file storage, so rerunning the same fit resumes the supernet too."""
        if isinstance(self.storage, str | Path) and str(self.storage) != ":memory:":
            return Path(f"{self.storage}.supernet.pt")
        return None

    def _search_shared(self, space: Space, data: ImageData, seed: int) -> None:
        """ENAS (or any sampling strategy) on a supernet: one trial per batch for ``epochs``
        epochs, then the best of the last ``max_trials`` children on the validation split."""
        import sweepml

        steps = -(-len(data.x_train) // self.batch_size) * self.epochs
        shared = SharedWeights(data, space, cells=self.cells, filters=self.filters,
                               batch_size=self.batch_size, learning_rate=self.learning_rate,
                               total_steps=steps, device=self.device, seed=seed,
                               checkpoint=self._checkpoint())  # fmt: skip
        if self.time_budget is not None:
            epoch_seconds = shared.seconds_per_epoch()
            if epoch_seconds > self.time_budget:
                raise InvalidParameterError(
                    f"time_budget={self.time_budget:g} s is too small for one epoch of the "
                    f"supernet: about {epoch_seconds:.0f} s ({shared.steps_per_epoch} steps, "
                    f"timed). Raise time_budget to at least {int(epoch_seconds * 1.2) + 1} s, or "
                    f"set search_size, filters or batch_size lower."
                )
        self.study_ = sweepml.maximize(
            shared, space, strategy=self.strategy, n_trials=steps, time_budget=self.time_budget,
            seed=self.seed, executor="serial", storage=self.storage,
            show_progress=self.show_progress,
        )  # fmt: skip
        shared.save()
        config, accuracy = shared.derive(self.study_, candidates=self.max_trials)
        self.best_config_, self.search_accuracy_ = config, accuracy

    def _search_darts(self, space: Space, data: ImageData, seed: int) -> None:
        """DARTS; its answer is the last epoch's discretized cell."""
        self.study_ = darts_search(
            data, space, epochs=self.epochs,
            strategy=self.strategy if isinstance(self.strategy, DARTS) else None,
            cells=self.cells, filters=self.filters, batch_size=self.batch_size,
            learning_rate=self.learning_rate, seed=seed, device=self.device,
            time_budget=self.time_budget, storage=self.storage, checkpoint=self._checkpoint(),
        )  # fmt: skip
        last = self.study_.trials[-1]
        self.best_config_, self.search_accuracy_ = dict(last.config), float(last.value or 0.0)

    def _build(self, config: dict[str, Any], n_classes: int, seed: int) -> nn.Module:
        return build(config, self.input_shape_, n_classes, seed=seed, cells=self.cells,
                     filters=self.filters)  # fmt: skip

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        scaled = (images - self.mean_[None, :, None, None]) / self.std_[None, :, None, None]
        return torch.as_tensor(scaled, dtype=torch.float32)

    # -- predicting -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "This ImageClassifier is not fitted yet; call fit(x, y) first (or load one)."
            )

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities, N x n_classes, columns in the order of ``classes_``."""
        self._check_fitted()
        images = _scaled(_examples(x, None, labels_needed=False)[0])
        return self._proba(images)

    def _proba(self, images: np.ndarray) -> np.ndarray:
        if tuple(images.shape[1:]) != self.input_shape_:
            raise InvalidParameterError(
                f"ImageClassifier was fitted on images of shape {self.input_shape_} (channels, "
                f"height, width); got {tuple(images.shape[1:])}."
            )
        device = torch.device(self.device)
        model = self.model_.to(device).eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 1024):
                batch = self._tensor(images[start : start + 1024]).to(device)
                out.append(torch.softmax(model(batch).float(), dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict(self, x: Any) -> np.ndarray:
        """Class labels (values of ``classes_``)."""
        return self.classes_[self.predict_proba(x).argmax(axis=1)]

    def evaluate(self, x: Any, y: Any = None) -> dict[str, float]:
        """Cross-entropy loss and accuracy on labelled images."""
        self._check_fitted()
        given, labels = _examples(x, y)
        proba = self._proba(_scaled(given))
        index = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = sorted({str(v) for v in labels.tolist() if v not in index})
        if unknown:
            raise InvalidParameterError(
                f"ImageClassifier.evaluate got labels it was not fitted on: {unknown[:5]}; "
                f"known: {self.classes_.tolist()[:10]}."
            )
        codes = np.array([index[v] for v in labels.tolist()])
        picked = proba[np.arange(len(codes)), codes]
        return {
            "loss": float(-np.mean(np.log(np.clip(picked, 1e-12, None)))),
            "accuracy": float(np.mean(proba.argmax(axis=1) == codes)),
        }

    # -- export -----------------------------------------------------------------------------
    def export(self, directory: str | Path, *, format: str = "onnx") -> Path:
        """Write the model to ``directory``: ``weights.pt`` (state dict), ``architecture.json``
        (config, input shape, classes, normalization; ``ImageClassifier.load`` reads both) and
        ``model.onnx`` (``format="onnx"``, any batch size; needs ``sweepml[nas-export]``) or
        ``model.pt2`` (``format="pt2"``, ``torch.export``). TorchScript is deprecated in PyTorch
        and cannot script these networks' module lists, so it is not offered.
        ``format="mlflow"`` writes an MLflow pyfunc model folder instead (images in, labels or
        probabilities out; needs ``sweepml[mlflow]``).

        The exported graph takes standardized images; ``architecture.json`` has the mean and
        standard deviation per channel.
        """
        self._check_fitted()
        if format not in _FORMATS:
            raise param_error("ImageClassifier.export", "format", f"one of {list(_FORMATS)}",
                              format)  # fmt: skip
        if format == "mlflow":
            from sweepml.integrations import mlflow_saver

            return mlflow_saver("save_image_model")(self, directory)  # type: ignore[no-any-return]
        root = self.save_weights(directory)
        model = self.model_.to("cpu").eval()
        example = torch.zeros(2, *self.input_shape_)
        if format == "pt2":
            batch = torch.export.Dim("batch")
            program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
            torch.export.save(program, root / "model.pt2")
            return root
        try:
            import onnxscript  # noqa: F401
        except ImportError:
            raise SweepmlError(
                "ONNX export needs onnx and onnxscript: pip install 'sweepml[nas-export]'; or "
                "use export(..., format='pt2')."
            ) from None
        # the exporter prints its progress and logs warnings about torchvision operators these
        # networks never use; keep the user's console clean and restore the logger afterwards
        exporter_log = logging.getLogger("torch.onnx")
        level = exporter_log.level
        exporter_log.setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                torch.onnx.export(model, (example,), root / "model.onnx", input_names=["images"],
                                  output_names=["logits"], dynamic_shapes={"x": {0: "batch"}},
                                  external_data=False, verbose=False)  # fmt: skip
        finally:
            exporter_log.setLevel(level)
        return root

    def save_weights(self, directory: str | Path) -> Path:
        """Write ``weights.pt`` and ``architecture.json`` to ``directory``: what
        ``ImageClassifier.load`` reads back."""
        self._check_fitted()
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        torch.save(self.model_.to("cpu").eval().state_dict(), root / "weights.pt")
        (root / "architecture.json").write_text(json.dumps(self._description(), indent=2))
        return root

    def _description(self) -> dict[str, Any]:
        return {
            "config": self.best_config_,
            "input_shape": list(self.input_shape_),
            "classes": self.classes_.tolist(),
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
            "cells": self.cells,
            "filters": self.filters,
            "search_accuracy": self.search_accuracy_,
            "pixels": self.pixels_,
        }

    @classmethod
    def load(cls, directory: str | Path, *, device: str = "auto") -> ImageClassifier:
        """An ImageClassifier that predicts with a model written by ``export``."""
        root = Path(directory)
        try:
            description = json.loads((root / "architecture.json").read_text())
            state = torch.load(root / "weights.pt", map_location="cpu", weights_only=True)
        except FileNotFoundError as error:
            raise SweepmlError(
                f"{root} holds no exported ImageClassifier ({error.filename} is missing)."
            ) from None
        model = cls(device=device, cells=description["cells"], filters=description["filters"])
        model.classes_ = np.array(description["classes"])
        model.input_shape_ = tuple(description["input_shape"])
        model.mean_ = np.array(description["mean"], dtype=np.float32)
        model.std_ = np.array(description["std"], dtype=np.float32)
        model.best_config_ = description["config"]
        model.search_accuracy_ = description["search_accuracy"]
        model.pixels_ = description.get("pixels", "unknown")  # exports before it was recorded
        model.model_ = model._build(model.best_config_, len(model.classes_), 0)
        model.model_.load_state_dict(state)
        model.model_.eval()
        return model


def _examples(x: Any, y: Any, *, labels_needed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images N x C x H x W as given (``_scaled`` makes them float32) and labels as a 1-d array,
    with the input checks."""
    if isinstance(x, torch.utils.data.Dataset) and not isinstance(x, torch.Tensor):
        if y is not None:
            raise InvalidParameterError(
                "ImageClassifier takes the labels from the Dataset's (image, label) pairs; "
                "pass y=None with a Dataset."
            )
        pairs = [x[i] for i in range(len(x))]  # type: ignore[arg-type]
        if not pairs:
            raise InvalidParameterError("ImageClassifier got an empty Dataset.")
        images = _stack([np.asarray(image) for image, _ in pairs], "Dataset images")
        if images.ndim == 3:  # H x W items
            images = images[:, None]
        labels = np.array([label.item() if hasattr(label, "item") else label
                           for _, label in pairs])  # fmt: skip
        return images, labels
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, Sequence) and not isinstance(x, str | bytes):
        x = _stack([np.asarray(item) for item in x], "images")
    images = np.asarray(x)
    if images.dtype == object:
        raise InvalidParameterError("ImageClassifier got images that are not numeric arrays.")
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4:
        images = np.moveaxis(images, -1, 1)  # channels last, as Auto-Keras takes them
    else:
        raise InvalidParameterError(
            f"ImageClassifier takes images N x H x W or N x H x W x C (channels last); got an "
            f"array of shape {images.shape}. For 1-d signals of length L use N x 1 x L."
        )
    if len(images) == 0:
        raise InvalidParameterError("ImageClassifier got no images (N = 0).")
    if not labels_needed and y is None:
        return images, np.array([])
    if y is None:
        raise InvalidParameterError("ImageClassifier needs labels y for numpy images.")
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise InvalidParameterError(
            f"ImageClassifier takes labels as a 1-d array of N class labels; got shape "
            f"{labels.shape}."
        )
    if len(labels) != len(images):
        raise InvalidParameterError(
            f"ImageClassifier got {len(images)} images but {len(labels)} labels; they must "
            f"match one to one."
        )
    return images, labels


def _stack(items: list[np.ndarray], what: str) -> np.ndarray:
    shapes = sorted({item.shape for item in items}, key=str)
    if len(shapes) > 1:
        raise InvalidParameterError(
            f"ImageClassifier needs {what} of one shape; got {len(shapes)} shapes, e.g. "
            f"{shapes[0]} and {shapes[1]}. Resize or crop them to one size first."
        )
    return np.stack(items)


def _scaled(images: np.ndarray) -> np.ndarray:
    """float32; integer pixels (0..255) are scaled to [0, 1] so mean/std stay well-conditioned."""
    if not np.issubdtype(images.dtype, np.number) and images.dtype != np.bool_:
        raise InvalidParameterError(
            f"ImageClassifier takes numeric images; got dtype {images.dtype}."
        )
    out = images.astype(np.float32)
    if np.issubdtype(images.dtype, np.integer):
        out /= 255.0
    if not np.isfinite(out).all():
        raise InvalidParameterError("ImageClassifier got images with NaN or infinite pixels.")
    return out
