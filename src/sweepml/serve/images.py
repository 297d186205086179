"""Serving an ``ImageClassifier`` export folder: images in as JSON, labels or probabilities out.

A request is ``application/json`` with ``instances`` or ``inputs``: a list of images, each
either nested lists of pixels (H x W, or H x W x C channels last, as ``ImageClassifier.predict``
takes them) or a base64 PNG or JPEG (a string, or ``{"b64": "..."}`` as TensorFlow Serving
writes it). Integer pixels are 8-bit values and are scaled as at fit time, floats are taken as
they are: the answer is ``model.predict`` of the same array. A decoded file is converted to the
model's channels (grayscale or RGB) but never resized: an image of another size is a 400 that
names the size the model takes.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sweepml.exceptions import InvalidParameterError
from sweepml.serve.errors import RequestError
from sweepml.serve.protocol import Invocation, json_document, media_type, proba_param
from sweepml.serve.service import class_answer, json_value, versions

__all__ = ["ImageService", "load_image_service"]

_KEYS = ("instances", "inputs")


class ImageService:
    """A fitted ``ImageClassifier`` (loaded from its export folder) behind the server."""

    task = "classification"

    def __init__(self, classifier: Any, path: str) -> None:
        self.model, self.path = classifier, path
        self.channels, self.height, self.width = classifier.input_shape_
        self.classes = classifier.classes_

    def parse(self, body: bytes, content_type: str | None, query: Mapping[str, str]) -> Invocation:
        if media_type(content_type) != "application/json":
            raise RequestError(
                415,
                f"an image model takes Content-Type application/json (images as nested lists "
                f"or base64 PNG/JPEG); got {content_type or 'none'!r}.",
            )
        document = json_document(body)
        present = [key for key in _KEYS if key in document]
        extra = sorted(set(document) - set(_KEYS) - {"params"})
        if len(present) != 1 or extra:
            raise RequestError(
                400,
                f"an image model's JSON body holds exactly one of {list(_KEYS)} (a list of "
                f"images) and optionally 'params'; it holds {present + extra or 'none of them'}.",
                "MALFORMED_REQUEST",
            )
        images = self._images(document[present[0]], present[0])
        return Invocation(images, proba=proba_param(document, query))

    def check(self, invocation: Invocation) -> None:
        """Shapes were checked as the images were read."""

    def use_threads(self, threads: int) -> None:
        """PyTorch's threads for one forward pass (a setting of the whole process)."""
        import torch

        torch.set_num_threads(threads)

    def outputs_of(self, invocations: Sequence[Invocation]) -> np.ndarray:
        images = [invocation.rows for invocation in invocations]
        together = images[0] if len(images) == 1 else np.concatenate(images)
        return np.asarray(self.model.predict_proba(together))

    def answer(self, outputs: np.ndarray, proba: bool) -> dict[str, Any]:
        return class_answer(outputs, self.classes, proba)

    def predict(self, invocation: Invocation) -> dict[str, Any]:
        return self.answer(self.outputs_of([invocation]), invocation.proba)

    def metadata(self) -> dict[str, Any]:
        """The task, classes, the images the model takes, its search accuracy and the versions."""
        return {
            "model_file": self.path,
            "estimator": "ImageClassifier",
            "task": self.task,
            "classes": [json_value(c) for c in self.classes],
            "input": {
                "shape": [self.height, self.width, self.channels],
                "layout": "height x width x channels (channels last; one channel may be left out)",
                "pixels": "8-bit integers 0-255 (scaled as at fit time) or floats as at fit time",
                "fit_on": getattr(self.model, "pixels_", "unknown"),
                "files": "base64 PNG or JPEG, of this height and width",
            },
            "config": self.model.best_config_,
            "search_accuracy": self.model.search_accuracy_,
            "served_with": versions(),
        }

    # -- reading images ---------------------------------------------------------------------
    def _images(self, value: Any, key: str) -> np.ndarray:
        """The images of a request as one float32 array, channels last, pixels scaled."""
        if not isinstance(value, list) or not value:
            raise RequestError(400, f'"{key}" must be a non-empty list of images.')
        files = [_base64_of(item) for item in value]
        if all(data is not None for data in files):
            arrays = [self._decoded(data, i) for i, data in enumerate(files)]  # type: ignore[arg-type]
            images = np.stack(arrays)
        elif any(data is not None for data in files):
            raise RequestError(400, f'"{key}" mixes base64 files and pixel lists; send one kind.')
        else:
            try:
                images = np.asarray(value)
            except ValueError:
                images = np.asarray([], dtype=object)
            if images.dtype == object or not (
                np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_
            ):
                raise RequestError(
                    400,
                    f'"{key}" must hold images of numbers, each {self._expected()}, all of '
                    f"one size.",
                )
        images = self._shaped(images)
        if np.issubdtype(images.dtype, np.integer):
            if images.min() < 0 or images.max() > 255:
                raise RequestError(400, "integer pixels must be 8-bit values, 0 to 255.")
            return images.astype(np.float32) / np.float32(255.0)
        images = images.astype(np.float32)
        if not np.isfinite(images).all():
            raise RequestError(400, "the images have NaN or infinite pixels.")
        return images

    def _shaped(self, images: np.ndarray) -> np.ndarray:
        expected = (self.height, self.width, self.channels)
        shape = list(images.shape[1:])  # as sent
        if images.ndim == 3 and self.channels == 1:
            images = images[..., None]
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise RequestError(
                400, f"each image must be {self._expected()}; got images of shape {shape}."
            )
        return images

    def _expected(self) -> str:
        size = f"{self.height} x {self.width}"
        if self.channels == 1:
            return f"{size} (height x width, or {size} x 1)"
        return f"{size} x {self.channels} (height x width x channels)"

    def _decoded(self, data: bytes, index: int) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as opened:
                image = opened.convert("L" if self.channels == 1 else "RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise RequestError(400, f"image {index} is not a PNG or JPEG file: {exc}.") from None
        if self.channels not in (1, 3):
            raise RequestError(
                400, f"files carry 1 or 3 channels; this model takes {self.channels}: send pixels."
            )
        if image.size != (self.width, self.height):
            width, height = image.size
            raise RequestError(
                400,
                f"image {index} is {height} x {width} pixels; this model takes "
                f"{self.height} x {self.width} (height x width). Resize it first.",
            )
        return np.asarray(image)


def load_image_service(path: str | Path) -> ImageService:
    """The ``ImageClassifier`` exported to the folder ``path``, ready to serve."""
    try:
        from sweepml.nas import ImageClassifier
    except ImportError as exc:
        raise InvalidParameterError(
            f"{str(path)!r} is a folder: serving an ImageClassifier export needs PyTorch "
            f"({exc.name} is not installed): pip install 'sweepml[nas]'."
        ) from None
    return ImageService(ImageClassifier.load(path, device="cpu"), str(path))


def _base64_of(item: Any) -> bytes | None:
    """The bytes of a base64 image (``"..."`` or ``{"b64": "..."}``), None for pixel lists."""
    if isinstance(item, dict) and set(item) == {"b64"}:
        item = item["b64"]
    if not isinstance(item, str):
        return None
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "an image given as a string must be base64 PNG or JPEG.") from None
