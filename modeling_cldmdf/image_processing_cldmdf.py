# Copyright 2026 The CL-DMDF contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The processor side of the CNN image modality (an image spec without a `backbone`): the spec's keys and defaults,
and `cnn_pixel_values`, which converts every image to `num_channels`, resizes it to `image_size` x `image_size` and
scales it to [0, 1] (deterministic: the same in training, evaluation and prediction). The model side, with the
training-time augmentation, is `image_encoder_cldmdf.py`.

Remote code that the processor carries: numpy, Pillow and the standard library only, no torch, so that a saved
processor prepares inputs for an exported model where torch is not installed.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from transformers.utils import is_torch_tensor

__all__ = [
    "CNN_SPEC_KEYS",
    "DEFAULT_IMAGE_SIZE",
    "MAX_DEFAULT_IMAGE_SIZE",
    "as_pil_image",
    "cnn_pixel_values",
    "is_cnn_image_spec",
    "normalize_cnn_image_spec",
]

# Defaults of a CNN image spec. `image_size` 32 and widths (32, 64, 128) keep a training step of a 64-row batch near
# 0.1 s on one CPU core; the training script sets `image_size` and `num_channels` from the training images instead
# (their size, capped at `MAX_DEFAULT_IMAGE_SIZE`, and 1 channel for grayscale data).
DEFAULT_IMAGE_SIZE = 32
MAX_DEFAULT_IMAGE_SIZE = 32
DEFAULT_CHANNELS = (32, 64, 128)
# The last feature map is averaged to a grid of this side, not to one value per channel: where a stroke is matters (a
# 6 and a 9 have the same strokes), and global average pooling throws that layout away (docs/results.md measures it).
DEFAULT_POOL_SIZE = 4
CNN_SPEC_KEYS = (
    "type",
    "encoder",
    "image_size",
    "num_channels",
    "cnn_channels",
    "pool_size",
    "augment_shift",
    "augment_flip",
)


def is_cnn_image_spec(spec: Mapping[str, Any]) -> bool:
    """Whether a modality spec is encoded by the CNN of this file: an image spec that names no backbone."""
    return spec.get("type") == "image" and (spec.get("encoder") == "cnn" or "backbone" not in spec)


def default_augment_shift(image_size: int) -> int:
    """Pixels of the random shift: an eighth of the side (2 for 16 x 16, 4 for 32 x 32), as in the usual
    pad-4-and-crop augmentation of 32 x 32 images."""
    return max(1, image_size // 8)


def normalize_cnn_image_spec(name: str, spec: Mapping[str, Any]) -> dict:
    """A CNN image spec checked, with its defaults filled in.

    Keys (all optional but `type`):
        encoder (`"cnn"`), image_size (`int`, defaults to 32: the side images are resized to),
        num_channels (`int`, 1 or 3, defaults to 3: grayscale or RGB), cnn_channels (`list[int]`, defaults to
        [32, 64, 128]: the width of each stage, each stage halving the resolution but the last), pool_size (`int`,
        defaults to 4: the last feature map is averaged to a pool_size x pool_size grid, flattened),
        augment_shift (`int`, defaults to `image_size // 8`: random shifts of up to that many pixels in training; 0
        off), augment_flip (`bool`, defaults to `False`: random horizontal flips in training, wrong for digits and
        text, right for most photos).

    Raises:
        ValueError: an unknown key or a value out of range, naming the key and what is allowed.
    """
    spec = dict(spec)
    unknown = sorted(set(spec) - set(CNN_SPEC_KEYS))
    if unknown:
        raise ValueError(
            f"`modalities[{name!r}]` is an image modality without a backbone (the CNN encoder) and has unknown keys "
            f"{unknown}; its keys are {list(CNN_SPEC_KEYS)} (or give a `backbone`)."
        )
    if spec.setdefault("encoder", "cnn") != "cnn":
        raise ValueError(f"`modalities[{name!r}]['encoder']` must be 'cnn', got {spec['encoder']!r}.")
    size = spec.setdefault("image_size", DEFAULT_IMAGE_SIZE)
    if isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 1024:
        raise ValueError(f"`modalities[{name!r}]['image_size']` must be an int in [4, 1024], got {size!r}.")
    channels = spec.setdefault("num_channels", 3)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"`modalities[{name!r}]['num_channels']` must be 1 (grayscale) or 3 (RGB), got {channels!r}.")
    widths = spec.setdefault("cnn_channels", list(DEFAULT_CHANNELS))
    if (
        not isinstance(widths, Sequence)
        or isinstance(widths, str)
        or not widths
        or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)
    ):
        raise ValueError(
            f"`modalities[{name!r}]['cnn_channels']` must be a non-empty list of positive ints (one width per "
            f"stage), got {widths!r}."
        )
    spec["cnn_channels"] = [int(w) for w in widths]
    pool = spec.setdefault("pool_size", DEFAULT_POOL_SIZE)
    if isinstance(pool, bool) or not isinstance(pool, int) or not 1 <= pool <= 16:
        raise ValueError(f"`modalities[{name!r}]['pool_size']` must be an int in [1, 16], got {pool!r}.")
    shift = spec.setdefault("augment_shift", default_augment_shift(size))
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift < size:
        raise ValueError(
            f"`modalities[{name!r}]['augment_shift']` must be an int in [0, image_size={size}), got {shift!r}."
        )
    if not isinstance(spec.setdefault("augment_flip", False), bool):
        raise ValueError(f"`modalities[{name!r}]['augment_flip']` must be a bool, got {spec['augment_flip']!r}.")
    return spec


def cnn_pixel_values(name: str, rows: Sequence[int], values: Sequence[Any], spec: Mapping[str, Any]) -> np.ndarray:
    """The present images of modality `name` (at rows `rows`, for messages) as float32 pixels `(P, C, S, S)` in
    [0, 1]: each converted to `num_channels` (grayscale "L" or "RGB"), resized to `image_size` (bilinear; an image of
    that size already is left as it is) and divided by 255. Deterministic: no augmentation here."""
    size, channels = spec["image_size"], spec["num_channels"]
    out = np.empty((len(values), channels, size, size), dtype=np.float32)
    for index, (row, value) in enumerate(zip(rows, values)):
        image = as_pil_image(name, row, value).convert("L" if channels == 1 else "RGB")
        if image.size != (size, size):
            image = image.resize((size, size), resample=2)  # 2 = PIL.Image.BILINEAR, without importing its enums
        pixels = np.asarray(image, dtype=np.float32) / 255.0  # (S, S) or (S, S, 3)
        out[index] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return out


def as_pil_image(name: str, row: int, value: Any):
    """One present entry as a PIL image: a PIL image, `{"bytes": ...}` / `{"path": ...}` (an undecoded
    `datasets.Image` value), or a uint8 array / tensor `(H, W)` or `(H, W, C)` with C in {1, 3, 4}."""
    from PIL import Image  # Pillow: only needed where images are given

    if isinstance(value, Mapping) and (value.get("bytes") is not None or value.get("path") is not None):
        source = value["bytes"] if value.get("bytes") is not None else value["path"]
        if isinstance(source, (bytes, bytearray)):
            import io

            source = io.BytesIO(source)
        return Image.open(source)
    if hasattr(value, "convert") and hasattr(value, "mode"):
        return value
    if is_torch_tensor(value):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = value[..., 0] if value.ndim == 3 and value.shape[2] == 1 else value
        if array.dtype == np.uint8 and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
            return Image.fromarray(array)
        raise TypeError(
            f"Image modality {name!r}, row {row}: an array image must be uint8 of shape (H, W) or (H, W, C) with C in "
            f"(1, 3, 4), got dtype {value.dtype} and shape {value.shape}"
        )
    raise TypeError(
        f"Image modality {name!r}, row {row}: expected a PIL image, a uint8 array (H, W[, C]), a {{'bytes': ...}} "
        f"dict or None, got {type(value).__name__}"
    )
