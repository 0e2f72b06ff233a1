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
"""What reads each text and image modality of `CLDMDFProcessor`, and the inputs it makes.

A text modality is read by its tokenizer, or, with `encoder: "bag_of_words"`, by the vocabulary fitted on the
training split (`vocabulary_cldmdf.py`); an image modality by its image processor, or, with `encoder: "cnn"`, by the
CNN encoder's own resize (`image_processing_cldmdf.py`). Tokenizers and image processors are the processor's
sub-processors: resolved here from what the caller gave or the spec's checkpoint, saved in one sub-folder each
(`{name}_tokenizer/`, `{name}_image_processor/`: one level deep, as `push_to_hub` uploads folders one level deep).
Every function makes the `(B, ...)` inputs of one modality from its P present entries at rows `rows` (P,), with a
missing row never filled with invented data: padding with attention 0, zeros.

This file travels to the Hub as remote code with `processing_cldmdf.py` (which imports it): it imports only numpy,
public transformers APIs and its siblings.
"""

import os
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np
from transformers import AutoImageProcessor, AutoTokenizer, ImageProcessingMixin, PreTrainedTokenizerBase

from .columns_cldmdf import load_image, pooled_values, rows_repr
from .image_processing_cldmdf import cnn_pixel_values, normalize_cnn_image_spec
from .vocabulary_cldmdf import CLDMDFVocabulary, is_bag_of_words

# Used when `max_length` is None and the tokenizer declares no usable `model_max_length`.
DEFAULT_MAX_LENGTH = 512


def subfolder_of(name: str, kind: str) -> str:
    """Sub-folder (one level below the processor folder) holding the sub-processor of modality `name`."""
    return f"{name}_tokenizer" if kind == "text" else f"{name}_image_processor"


def checkpoint_of(spec: Mapping[str, Any]) -> Optional[str]:
    """The checkpoint name/path of a text/image spec: `backbone` when it is one, else `pretrained_name`."""
    if isinstance(spec.get("backbone"), str):
        return spec["backbone"]
    if isinstance(spec.get("pretrained_name"), str):
        return spec["pretrained_name"]
    return None


def uses_cnn(spec: Mapping[str, Any]) -> bool:
    """An image modality the processor resizes itself, for the CNN encoder: `encoder: "cnn"` (what a model config
    writes for an image spec without a backbone)."""
    return spec["type"] == "image" and spec.get("encoder") == "cnn"


def has_sub_processor(spec: Mapping[str, Any]) -> bool:
    """Whether a modality is read through a tokenizer or an image processor: not dense, not a bag of words (a fitted
    vocabulary), not a CNN image (resized by the processor itself)."""
    return spec["type"] != "dense" and not uses_cnn(spec) and not is_bag_of_words(spec)


def with_cnn_specs(modalities: dict[str, dict], sub_processors: Optional[Mapping[str, Any]]) -> dict[str, dict]:
    """The modalities with the CNN image specs completed: an image spec with `encoder: "cnn"`, or with neither a
    backbone nor a checkpoint nor a given image processor, gets the CNN's keys and defaults (as the model config
    does), so that the processor resizes its images to the size the encoder was built for."""
    given = sub_processors or {}
    out = {}
    for name, spec in modalities.items():
        bare = spec["type"] == "image" and name not in given and "backbone" not in spec and not checkpoint_of(spec)
        out[name] = normalize_cnn_image_spec(name, spec) if uses_cnn(spec) or bare else spec
    return out


# ------------------------------------------------------------------------------------------------------------------
# Sub-processors: resolving, loading


def resolve_sub_processors(modalities: Mapping[str, dict], given: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The tokenizer / image processor of every modality that needs one (`has_sub_processor`), checked: the given
    one, else loaded with `AutoTokenizer` / `AutoImageProcessor` from the spec's checkpoint."""
    given = dict(given or {})
    # The modalities a tokenizer or image processor is for: not dense, not a bag of words (a fitted vocabulary).
    allowed = [n for n, s in modalities.items() if s["type"] != "dense" and not is_bag_of_words(s)]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(
            f"`sub_processors` has entries {unknown} that are not text or image modalities with a backbone; "
            f"those are {allowed}"
        )
    cnn = sorted(set(given) & {n for n, s in modalities.items() if uses_cnn(s)})
    if cnn:
        raise ValueError(
            f"`sub_processors` has entries {cnn} for image modalities of the CNN encoder (`encoder: 'cnn'`), "
            f"which the processor resizes itself; give them a `backbone` to use an image processor"
        )
    resolved = {}
    for name, spec in modalities.items():
        kind = spec["type"]
        if not has_sub_processor(spec):
            continue
        sub = given.get(name)
        if sub is None:
            checkpoint = checkpoint_of(spec)
            if checkpoint is None:
                raise ValueError(
                    f"The {kind} modality {name!r} has a backbone config but no checkpoint to load its "
                    f"{'tokenizer' if kind == 'text' else 'image processor'} from; pass it in "
                    f"`sub_processors={{{name!r}: ...}}`"
                )
            sub = (AutoTokenizer if kind == "text" else AutoImageProcessor).from_pretrained(checkpoint)
        if kind == "text":
            if not isinstance(sub, PreTrainedTokenizerBase):
                raise TypeError(
                    f"`sub_processors[{name!r}]` must be a transformers tokenizer for a text modality, got "
                    f"{type(sub).__name__}"
                )
            if sub.pad_token_id is None:
                raise ValueError(
                    f"The tokenizer of text modality {name!r} has no pad token, needed to pad missing and short "
                    f"rows; set one first (e.g. `tokenizer.pad_token = tokenizer.eos_token`)"
                )
        elif not isinstance(sub, ImageProcessingMixin):
            raise TypeError(
                f"`sub_processors[{name!r}]` must be a transformers image processor for an image modality, got "
                f"{type(sub).__name__}"
            )
        resolved[name] = sub
    return resolved


def load_sub_processors(
    pretrained_model_name_or_path: Union[str, os.PathLike],
    modalities: Mapping[str, dict],
    given: Mapping[str, Any],
    subfolder: str,
    trust_remote_code: Optional[bool],
    hub_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The `given` sub-processors, plus those of the other modalities that need one, loaded from their sub-folders
    of a saved processor (a folder or a Hub repo, under `subfolder`)."""
    sub_processors = dict(given)
    for name, spec in modalities.items():
        if not has_sub_processor(spec) or name in sub_processors:
            continue
        folder = subfolder_of(name, spec["type"])
        loader = AutoTokenizer if spec["type"] == "text" else AutoImageProcessor
        sub_processors[name] = loader.from_pretrained(
            pretrained_model_name_or_path,
            subfolder=f"{subfolder}/{folder}" if subfolder else folder,
            trust_remote_code=trust_remote_code,
            **hub_kwargs,
        )
    return sub_processors


# ------------------------------------------------------------------------------------------------------------------
# Text


def check_texts(name: str, values: list, rows: np.ndarray) -> list:
    """The present entries of text modality `name`, each checked to be a string."""
    wrong = [k for k, value in enumerate(values) if not isinstance(value, str)]
    if wrong:
        raise TypeError(
            f"Text modality {name!r} expects a string (or None) per row; rows {rows_repr(rows[wrong])} have "
            f"{type(values[wrong[0]]).__name__}"
        )
    return values


def effective_max_length(tokenizer: PreTrainedTokenizerBase, max_length: Optional[int]) -> int:
    """`max_length` when given, else the tokenizer's `model_max_length`, else `DEFAULT_MAX_LENGTH`."""
    if max_length is not None:
        return max_length
    declared = getattr(tokenizer, "model_max_length", None)
    # Tokenizers without a limit declare a huge sentinel (int(1e30)).
    return int(declared) if isinstance(declared, int) and 0 < declared <= 1_000_000 else DEFAULT_MAX_LENGTH


def text_inputs(
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    values: list,
    rows: np.ndarray,
    batch_size: int,
    max_length: Optional[int],
    padding: str,
) -> dict[str, np.ndarray]:
    """`input_ids` and `attention_mask` `(B, L)` of the present texts, truncated to `max_length` and padded with
    `padding` (`"longest"` present text, or `"max_length"`); a missing row is all padding with attention 0."""
    check_texts(name, values, rows)
    max_length = effective_max_length(tokenizer, max_length)
    if values:
        encoded = tokenizer(
            values,
            padding=padding,
            truncation=True,
            max_length=max_length,
            return_attention_mask=True,
            return_token_type_ids=False,
            return_tensors="np",
        )
        ids, attention = encoded["input_ids"], encoded["attention_mask"]
        length = ids.shape[1]
    else:
        length = max_length if padding == "max_length" else 1
    input_ids = np.full((batch_size, length), tokenizer.pad_token_id, dtype=np.int64)  # (B, L)
    attention_mask = np.zeros((batch_size, length), dtype=np.int64)  # (B, L), 0 under missing
    if values:
        input_ids[rows] = ids
        attention_mask[rows] = attention
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def bag_of_words_inputs(
    name: str, vocabulary: CLDMDFVocabulary, values: list, rows: np.ndarray, batch_size: int
) -> dict[str, np.ndarray]:
    """`input_ids` `(B, L)` and `per_sample_weights` `(B, L)` of the present texts' bags, L the longest bag of
    the batch; a missing row is all padding (id 0, weight 0), as is a present text with no known term."""
    ids, weights = vocabulary.encode(check_texts(name, values, rows))  # (P, L)
    input_ids = np.zeros((batch_size, ids.shape[1]), dtype=np.int64)
    per_sample_weights = np.zeros((batch_size, ids.shape[1]), dtype=np.float32)
    input_ids[rows] = ids
    per_sample_weights[rows] = weights
    return {"input_ids": input_ids, "per_sample_weights": per_sample_weights}


def pooled_inputs(name: str, values: list, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """A text/image modality given as its frozen backbone's pooled outputs (float vectors): stacked as is, (B, H)."""
    pooled = pooled_values(name, values, rows)  # (P, H) float64, checked
    out = np.zeros((batch_size, pooled.shape[1]), dtype=np.float32)  # (B, H), 0 under missing
    out[rows] = pooled
    return out


# ------------------------------------------------------------------------------------------------------------------
# Image


def cnn_image_inputs(
    name: str, spec: Mapping[str, Any], values: list, rows: np.ndarray, batch_size: int
) -> np.ndarray:
    """An image modality of the CNN encoder: `(B, C, S, S)` in [0, 1], 0 under missing; deterministic (the
    training-time augmentation is the encoder's)."""
    size = spec["image_size"]
    out = np.zeros((batch_size, spec["num_channels"], size, size), dtype=np.float32)
    out[rows] = cnn_pixel_values(name, rows.tolist(), values, spec)
    return out


def image_processor_inputs(
    name: str,
    image_processor: ImageProcessingMixin,
    values: list,
    rows: np.ndarray,
    batch_size: int,
    shapes: dict[str, tuple[int, ...]],
) -> np.ndarray:
    """`(B, C, H, W)` pixel values of the present images, 0 under missing. `shapes` remembers the `(C, H, W)` each
    modality's image processor returned, for a batch without a present image (else probed with a black image)."""
    images = [load_image(name, row, value) for row, value in zip(rows.tolist(), values)]
    if images:
        pixels = _run_image_processor(name, image_processor, images)
        shapes[name] = pixels.shape[1:]
    if name not in shapes:
        probe = np.zeros((32, 32, 3), dtype=np.uint8)
        shapes[name] = _run_image_processor(name, image_processor, [probe]).shape[1:]
    out = np.zeros((batch_size, *shapes[name]), dtype=np.float32)  # (B, C, H, W), 0 under missing
    if images:
        out[rows] = pixels
    return out


def _run_image_processor(name: str, image_processor: ImageProcessingMixin, images: list) -> np.ndarray:
    processed = image_processor(images=images, return_tensors="np")["pixel_values"]
    pixels = np.asarray(processed, dtype=np.float32)
    if pixels.ndim != 4:
        raise ValueError(
            f"The image processor of modality {name!r} must return pixel_values of one fixed size (N, C, H, W), "
            f"got shape {pixels.shape}; configure it to resize/crop to a fixed size"
        )
    return pixels
