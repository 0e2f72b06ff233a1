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
"""Processor class for CL-DMDF: turns per-modality columns with missing entries into a model-ready batch.

This file travels to the Hub as remote code with the model: it imports only numpy, public transformers APIs and its
siblings: `configuration_cldmdf.py` (the modality-spec checks), `columns_cldmdf.py` (array work on one column),
`feature_extraction_cldmdf.py` (the dense modalities' standardisation) and `sub_processors_cldmdf.py` (the tokenizers,
image processors and vocabularies that read the text and image modalities). torch only where it is installed: without
it, `return_tensors="np"` prepares the inputs of an exported (ONNX) model.

Design. `ProcessorMixin` finds its sub-processors from `__init__` parameter names (`tokenizer`, `image_processor`,
...), each mandatory, one per kind. CL-DMDF has any number of modalities of each kind and may have none, so
`CLDMDFProcessor` declares no such parameter (`get_attributes()` is empty) and keeps its own state:
- `processor_config.json` (written by the mixin from `to_dict`) holds the modalities spec, the text options, the
  fitted dense statistics of its `CLDMDFDenseFeatureExtractor` (float32 values written as exact decimal doubles, so
  they reload bit-identical) and the fitted bag-of-words vocabularies;
- the tokenizer of text modality `name` lives in the sub-folder `{name}_tokenizer/`, the image processor of image
  modality `name` in `{name}_image_processor/` (`sub_processors_cldmdf.py`).
`_auto_class = "AutoProcessor"`, so every save writes `auto_map` and copies this file and the siblings it imports next
to the config: the folder loads with `AutoProcessor.from_pretrained(folder, trust_remote_code=True)` where this package
is not installed, and without `trust_remote_code` where the package registered the class with `AutoProcessor.register`.
"""

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import numpy as np
from transformers import BatchFeature, ProcessorMixin
from transformers.utils import is_torch_available, is_torch_tensor

if is_torch_available():
    import torch

from .columns_cldmdf import (
    as_row_list,
    check_columns,
    check_mask,
    is_present,
    is_vector,
    present_values,
    rows_repr,
    to_torch,
)
from .configuration_cldmdf import check_modality_spec
from .feature_extraction_cldmdf import CLDMDFDenseFeatureExtractor
from .sub_processors_cldmdf import (
    bag_of_words_inputs,
    check_texts,
    cnn_image_inputs,
    image_processor_inputs,
    load_sub_processors,
    pooled_inputs,
    resolve_sub_processors,
    subfolder_of,
    text_inputs,
    uses_cnn,
    with_cnn_specs,
)
from .vocabulary_cldmdf import CLDMDFVocabularyBuilder, check_vocabularies, is_bag_of_words

__all__ = ["CLDMDFProcessor", "CLDMDFBatchFeature"]

PROCESSOR_CONFIG_FILE = "processor_config.json"  # what `ProcessorMixin.save_pretrained` writes

PADDING_STRATEGIES = ("longest", "max_length")
RETURN_TENSORS = ("pt", "np")


def _normalize_modalities(modalities: Any) -> dict[str, dict[str, Any]]:
    """Validates a modalities spec (the model config's format) and returns a sorted, JSON-ready deep copy.

    Each entry goes through `check_modality_spec`, the checks the config makes too. What is the processor's own:
    names are also sub-folder names (no '/', '\\', leading '.'), a text / image spec needs no backbone (its
    tokenizer / image processor may be given), and backbone configs and numpy ints become JSON values.
    """
    if not isinstance(modalities, Mapping) or len(modalities) == 0:
        raise ValueError(
            f"`modalities` must be a non-empty dict name -> spec like {{'x': {{'type': 'dense', 'dim': 8}}}}, "
            f"got {modalities!r}"
        )
    clean = {}
    for name in sorted(modalities, key=str):
        spec = modalities[name]
        if isinstance(name, str) and (name.startswith(".") or any(c in name for c in "/\\")):
            raise ValueError(
                f"`modalities` keys must be non-empty strings without '/' or '\\' not starting with '_' or '.', "
                f"got {name!r}"
            )
        if isinstance(spec, Mapping):
            spec = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in spec.items()}
            if isinstance(spec.get("dim"), np.integer):
                spec["dim"] = int(spec["dim"])
        clean[name] = check_modality_spec(name, spec)
    return clean


class CLDMDFBatchFeature(BatchFeature):
    """A `BatchFeature` whose `.to()` also moves the tensors nested in dicts (`modality_inputs`)."""

    def to(self, *args, **kwargs) -> "CLDMDFBatchFeature":
        """Moves / casts every tensor, recursing into dicts; only floating tensors are cast to a dtype.

        Args:
            args, kwargs: as `torch.Tensor.to` (a device, a dtype, `non_blocking=...`).
        """
        device = kwargs.get("device", next((a for a in args if isinstance(a, (str, int, torch.device))), None))
        non_blocking = kwargs.get("non_blocking", False)

        def move(value):
            if is_torch_tensor(value):
                if torch.is_floating_point(value):
                    return value.to(*args, **kwargs)
                return value.to(device=device, non_blocking=non_blocking) if device is not None else value
            if isinstance(value, Mapping):
                return {k: move(v) for k, v in value.items()}
            return value

        self.data = {k: move(v) for k, v in self.data.items()}
        return self

    def flatten(self) -> dict:
        """The batch as one flat dict of arrays, the inputs of an exported model (`cldmdf-export`): `modality_mask`,
        then each modality's tensor as `modality_inputs.{name}`, or its tensors as `modality_inputs.{name}.{key}` (a
        text modality's `input_ids`...)."""
        flat = {"modality_mask": self["modality_mask"]}
        for name, value in self["modality_inputs"].items():
            if isinstance(value, Mapping):
                flat.update({f"modality_inputs.{name}.{key}": tensor for key, tensor in value.items()})
            else:
                flat[f"modality_inputs.{name}"] = value
        return flat


class CLDMDFProcessor(ProcessorMixin):
    r"""
    Constructs a CL-DMDF processor: one standardiser per dense modality, one tokenizer per text modality, one image
    processor per image modality with a backbone, and the missing-modality bookkeeping of the batch contract. An
    image modality without a backbone (the CNN encoder, `encoder: "cnn"`) needs no image processor: its images are
    converted to `num_channels`, resized to `image_size` and scaled to [0, 1] here, the same way in training and
    evaluation (the training-time augmentation is the encoder's, in training mode only).

    [`CLDMDFProcessor`] takes per-modality lists with `None` for missing entries and returns a [`CLDMDFBatchFeature`]
    `{"modality_inputs": {name: ...}, "modality_mask": BoolTensor (B, M)}` ready for `model(**batch)`; modalities are
    in sorted name order. A missing entry is never filled with invented data: dense rows are exactly 0, text rows are
    all padding with `attention_mask` 0, image rows are zeros, and `modality_mask` is False.

    `processor(modalities, return_tensors="pt", modality_mask=None)` is the one processing API. Without a mask, the
    present entries are those [`~CLDMDFProcessor.presence_mask`] finds (not None); the data collator passes the mask
    its simulated missingness produced, and entries under a False are then never read.

    Args:
        modalities (`dict[str, dict]`):
            The modalities, name -> spec, in the format of `CLDMDFConfig.modalities`: `{"type": "dense", "dim": int}`,
            `{"type": "text", "backbone": ...}`, `{"type": "image", "backbone": ...}`.
        sub_processors (`dict[str, Any]`, *optional*):
            Tokenizer of each text modality and image processor of each image modality, by modality name. A text or
            image modality not given here is loaded with `AutoTokenizer` / `AutoImageProcessor` from its checkpoint
            (the spec's `backbone` when it is a name/path, else its `pretrained_name`).
        max_length (`int`, *optional*):
            Maximum number of tokens per text entry (longer ones are truncated). Defaults to the tokenizer's
            `model_max_length`, or 512 when the tokenizer declares none.
        padding (`str`, *optional*, defaults to `"longest"`):
            `"longest"`: pad text to the longest present entry of the batch; `"max_length"`: always to `max_length`.
        dense_statistics (`dict[str, dict[str, list[float]]]`, *optional*):
            Per dense modality `{"mean": [...], "std": [...]}` (length `dim`), as written by [`~CLDMDFProcessor.fit`].
            Dense values are standardised `(x - mean) / std` in float32. Processing a dense modality without
            statistics raises a `ValueError` (call `.fit(train_split)` first), unless `allow_unfitted=True`.
        min_std (`float`, *optional*, defaults to 1e-6):
            In [`~CLDMDFProcessor.fit`], features whose standard deviation is below this are treated as constant and
            get `std = 1` (they are centred, not scaled), as scikit-learn's `StandardScaler` does.
        text_vocabularies (`dict[str, dict]`, *optional*):
            Per bag-of-words text modality (`{"type": "text", "encoder": "bag_of_words", ...}`), its fitted
            vocabulary as written by [`~CLDMDFProcessor.fit`] (`CLDMDFVocabulary.to_dict()`: terms, idf, options).
            Such a modality needs no tokenizer; its texts become `{"input_ids", "per_sample_weights"}` bags.
        bag_of_words_min_df (`int`, *optional*, defaults to 2):
            In [`~CLDMDFProcessor.fit`], the training documents a term must occur in to enter a vocabulary (the
            vocabulary keeps at most the spec's `vocab_size` terms, those of largest count).
        bag_of_words_ngram_range (`tuple[int, int]`, *optional*, defaults to `(1, 2)`):
            In [`~CLDMDFProcessor.fit`], the word n-grams that are terms.
        allow_unfitted (`bool`, *optional*, defaults to `False`):
            Pass the values of a dense modality without statistics through unchanged, for inputs already on a sensible
            scale. By default such a processor refuses dense inputs: a model trained on standardised features scores
            far worse on raw ones, without any other sign that something is wrong.

    Example:

    ```python
    >>> modalities = {"audio": {"type": "dense", "dim": 2}, "video": {"type": "dense", "dim": 3}}
    >>> processor = CLDMDFProcessor(modalities, allow_unfitted=True)  # raw values; usually `.fit(train_split)`
    >>> batch = processor({"audio": [[1.0, 2.0], None], "video": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]})
    >>> batch["modality_mask"].tolist()
    [[True, True], [False, True]]
    >>> batch["modality_inputs"]["audio"].tolist()
    [[1.0, 2.0], [0.0, 0.0]]

    ```
    """

    # Every save writes `auto_map` and copies this file, so saved folders also load as remote code.
    _auto_class = "AutoProcessor"

    def __init__(
        self,
        modalities: Mapping[str, Mapping[str, Any]],
        sub_processors: Optional[Mapping[str, Any]] = None,
        max_length: Optional[int] = None,
        padding: str = "longest",
        dense_statistics: Optional[Mapping[str, Mapping[str, Sequence[float]]]] = None,
        min_std: float = 1e-6,
        allow_unfitted: bool = False,
        text_vocabularies: Optional[Mapping[str, Mapping[str, Any]]] = None,
        bag_of_words_min_df: int = 2,
        bag_of_words_ngram_range: Sequence[int] = (1, 2),
    ):
        # No positional sub-processor: the mixin then only sets `chat_template` to None.
        super().__init__()
        self.modalities = with_cnn_specs(_normalize_modalities(modalities), sub_processors)
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        ):
            raise ValueError(f"`max_length` must be a positive int or None, got {max_length!r}")
        if padding not in PADDING_STRATEGIES:
            raise ValueError(f"`padding` must be one of {PADDING_STRATEGIES}, got {padding!r}")
        dims = {name: spec["dim"] for name, spec in self.modalities.items() if spec["type"] == "dense"}
        self.feature_extractor = CLDMDFDenseFeatureExtractor(dims, min_std=min_std)
        if not isinstance(allow_unfitted, bool):
            raise TypeError(f"`allow_unfitted` must be a bool, got {allow_unfitted!r}")
        self.allow_unfitted = allow_unfitted
        self.max_length = max_length
        self.padding = padding
        self.sub_processors = resolve_sub_processors(self.modalities, sub_processors)
        self.feature_extractor.set_statistics(dense_statistics or {})
        # Checks the options now (a builder of no document raises nothing until `build`).
        CLDMDFVocabularyBuilder(bag_of_words_ngram_range, bag_of_words_min_df)
        self.bag_of_words_min_df = bag_of_words_min_df
        self.bag_of_words_ngram_range = tuple(bag_of_words_ngram_range)
        self.text_vocabularies = check_vocabularies(text_vocabularies, self.modalities)
        self._image_shapes: dict[str, tuple[int, ...]] = {}

    # ----------------------------------------------------------------------------------------------------------------
    # Construction helpers

    @classmethod
    def from_config(
        cls, config: Any, sub_processors: Optional[Mapping[str, Any]] = None, **kwargs
    ) -> "CLDMDFProcessor":
        """Builds a processor for the modalities of a model config.

        Args:
            config (`CLDMDFConfig` or `dict`):
                A config object with a `modalities` attribute, or a dict with a `"modalities"` key.
            sub_processors (`dict[str, Any]`, *optional*):
                Tokenizers / image processors by modality name (see the class docstring); the others are loaded from
                each spec's checkpoint.
            kwargs:
                The other arguments of [`CLDMDFProcessor`] (`max_length`, `padding`, ...).
        """
        modalities = config.get("modalities") if isinstance(config, Mapping) else getattr(config, "modalities", None)
        if modalities is None:
            raise ValueError(
                f"`config` must have a `modalities` mapping (a CLDMDFConfig or its dict), got {type(config).__name__}"
            )
        return cls(modalities=modalities, sub_processors=sub_processors, **kwargs)

    # ----------------------------------------------------------------------------------------------------------------
    # Introspection

    @property
    def modality_names(self) -> list[str]:
        """Modality names in the order of `modality_mask` columns (sorted)."""
        return list(self.modalities)

    @property
    def num_modalities(self) -> int:
        return len(self.modalities)

    @property
    def dense_names(self) -> list[str]:
        return [n for n, s in self.modalities.items() if s["type"] == "dense"]

    @property
    def dense_statistics(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The fitted statistics of the dense modalities, name -> (mean, std) float32 arrays (`dim`,)."""
        return self.feature_extractor.statistics

    @property
    def min_std(self) -> float:
        return self.feature_extractor.min_std

    @property
    def bag_of_words_names(self) -> list[str]:
        """The text modalities read as bags of words (a vocabulary fitted on the training split, no tokenizer)."""
        return [n for n, s in self.modalities.items() if is_bag_of_words(s)]

    @property
    def is_fitted(self) -> bool:
        """Whether every dense modality has standardisation statistics and every bag-of-words one a vocabulary."""
        return not self.feature_extractor.unfitted_names and all(
            name in self.text_vocabularies for name in self.bag_of_words_names
        )

    @property
    def model_input_names(self) -> list[str]:
        return ["modality_inputs", "modality_mask"]

    # ----------------------------------------------------------------------------------------------------------------
    # Fitting

    def fit(self, train_data: Any, batch_size: int = 4096) -> "CLDMDFProcessor":
        """Fits the standardisation statistics of every dense modality and the vocabulary of every bag-of-words text
        modality on the training split (and nothing else).

        Dense (`feature_extraction_cldmdf.py`): mean and population standard deviation per feature over the present
        rows (missing rows are ignored), accumulated batch by batch in float64 (Chan et al.'s parallel update) from
        the float32 values the model sees, then stored as float32. Features with std below `min_std` get std 1.
        Bag of words: the present texts are the documents (`vocabulary_cldmdf.py`: terms in at least
        `bag_of_words_min_df` of them, at most the spec's `vocab_size`, with their idf). Refitting replaces the
        statistics and vocabularies.

        Args:
            train_data (`datasets.Dataset`, `datasets.IterableDataset` or `Mapping[str, Sequence]`):
                The training split: a dataset (iterated in batches with `.iter(batch_size=...)`) or a dict of
                columns, one per dense and bag-of-words modality (a list with one entry per row, `None` when missing).
            batch_size (`int`, *optional*, defaults to 4096):
                Rows per batch when iterating a dataset.

        Returns:
            `CLDMDFProcessor`: `self`, fitted.
        """
        fitted_names = self.dense_names + self.bag_of_words_names
        if hasattr(train_data, "iter") and not isinstance(train_data, Mapping):
            columns = getattr(train_data, "column_names", None)
            missing = [n for n in fitted_names if columns is not None and n not in columns]
            if missing:
                raise ValueError(
                    f"`train_data` has no column for {self._fitted_kinds(missing)} {missing}; its columns are "
                    f"{list(columns)}"
                )
            batches = train_data.iter(batch_size=batch_size)
        elif isinstance(train_data, Mapping):
            missing = [n for n in fitted_names if n not in train_data]
            if missing:
                raise ValueError(
                    f"`train_data` has no column for {self._fitted_kinds(missing)} {missing}; it has "
                    f"{sorted(map(str, train_data))}. Pass the training split (a Dataset or a dict of columns), not a "
                    f"DatasetDict"
                )
            batches = [train_data]
        else:
            raise TypeError(
                f"`train_data` must be a datasets.Dataset / IterableDataset or a dict of columns, got "
                f"{type(train_data).__name__}"
            )

        statistics = self.feature_extractor.statistics_builders()
        vocabularies = {
            name: CLDMDFVocabularyBuilder(
                self.bag_of_words_ngram_range, self.bag_of_words_min_df, self.modalities[name]["vocab_size"]
            )
            for name in self.bag_of_words_names
        }
        for batch in batches:
            for name, builder in statistics.items():
                builder.update(batch[name])
            for name, builder in vocabularies.items():
                column = as_row_list(name, batch[name])
                rows = np.flatnonzero(is_present(column))
                builder.update(check_texts(name, present_values(name, column, rows), rows))
        self.text_vocabularies = {name: builder.build() for name, builder in vocabularies.items()}
        self.feature_extractor.set_statistics({name: builder.build() for name, builder in statistics.items()})
        return self

    # ----------------------------------------------------------------------------------------------------------------
    # Processing

    def presence_mask(self, modalities: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Which entries of a batch are present: the mask [`~CLDMDFProcessor.__call__`] uses when given none.

        Args:
            modalities (`Mapping[str, Sequence]`):
                Modality name -> one entry per row, `None` = missing: the columns `__call__` takes.

        Returns:
            `np.ndarray`: bool (B, M), True where the entry is not None, columns in `modality_names` order; a
            modality not given is False in every row. The data collator applies its simulated missingness to this
            mask and passes the result to `__call__` as `modality_mask`.
        """
        columns, batch_size = check_columns(modalities, self.modality_names)
        mask = np.zeros((batch_size, self.num_modalities), dtype=bool)  # (B, M)
        for j, name in enumerate(self.modality_names):
            if name in columns:
                mask[:, j] = is_present(columns[name])
        return mask

    def __call__(
        self,
        modalities: Optional[Mapping[str, Sequence[Any]]] = None,
        return_tensors: str = "pt",
        modality_mask: Optional[Union[np.ndarray, "torch.Tensor"]] = None,
        **kwargs,
    ) -> CLDMDFBatchFeature:
        """Processes one batch of rows, given column-wise, into model inputs: the processor's one processing API.

        Args:
            modalities (`Mapping[str, Sequence]`):
                Modality name -> one entry per row (`None` = missing): a sequence of `dim` numbers for a dense
                modality (a 2-D array of shape (B, dim) also works), a string for a text modality, a PIL image / array
                (H, W, C) / `{"bytes": ...}` dict for an image modality. Modalities not given are missing in every
                row. Every row must have at least one present modality.
            return_tensors (`str`, *optional*, defaults to `"pt"`):
                `"pt"` for torch tensors, `"np"` for numpy arrays.
            modality_mask (`np.ndarray` or `torch.BoolTensor` of shape `(B, M)`, *optional*):
                Which entries to use, True = present, columns in `modality_names` order. An entry under False is
                never read (it may hold anything) and comes out missing; an entry under True must not be None.
                Defaults to [`~CLDMDFProcessor.presence_mask`]: every entry that is not None. The data collator
                passes the mask its simulated missingness produced.

        Returns:
            [`CLDMDFBatchFeature`]: `modality_inputs` (name -> dense FloatTensor (B, dim) / text
            `{"input_ids", "attention_mask"}` LongTensors (B, L) / image FloatTensor (B, 3, H, W)) and
            `modality_mask` BoolTensor (B, M) (a copy of the given one), columns in sorted modality-name order.

        Raises:
            ValueError: unknown modality names, columns of different lengths, an empty batch, a dense entry of the
                wrong length or with NaN / infinite values, a row with no present modality, a `modality_mask` of
                the wrong shape or True over a None entry.
            TypeError: a column that is not a sequence, an entry of the wrong type for its modality, a
                `modality_mask` that is not boolean.
        """
        if kwargs:
            raise TypeError(
                f"CLDMDFProcessor.__call__ got unexpected arguments {sorted(kwargs)}; it takes `modalities` "
                f"(name -> list of entries), `return_tensors` and `modality_mask`"
            )
        if return_tensors not in RETURN_TENSORS:
            raise ValueError(f"`return_tensors` must be one of {RETURN_TENSORS}, got {return_tensors!r}")
        if return_tensors == "pt" and not is_torch_available():
            raise ImportError('`return_tensors="pt"` needs torch, which is not installed; use `return_tensors="np"`')
        columns, batch_size = check_columns(modalities, self.modality_names)
        if modality_mask is None:
            mask = self.presence_mask(columns)
        else:
            mask = check_mask(modality_mask, batch_size, self.modality_names)
        empty_rows = np.flatnonzero(~mask.any(axis=1))
        if empty_rows.size:
            raise ValueError(
                f"Rows {rows_repr(empty_rows)} have no present modality (every row needs at least one of "
                f"{self.modality_names}); drop them or fill one modality"
            )
        self._check_fitted()

        inputs = {}
        for j, name in enumerate(self.modality_names):
            rows = np.flatnonzero(mask[:, j])  # (P,) rows where this modality is present
            values = present_values(name, columns.get(name), rows)  # their P entries
            inputs[name] = self._process_modality(name, values, rows, batch_size)
        if return_tensors == "pt":
            inputs = to_torch(inputs)
            mask = torch.from_numpy(mask)
        return CLDMDFBatchFeature({"modality_inputs": inputs, "modality_mask": mask})

    def _fitted_kinds(self, names: list) -> str:
        """What the modalities `fit` reads are, for a message: 'dense modalities' unless some are bags of words."""
        return "dense modalities" if set(names) <= set(self.dense_names) else "dense / bag-of-words modalities"

    def _check_fitted(self) -> None:
        no_vocabulary = [name for name in self.bag_of_words_names if name not in self.text_vocabularies]
        if no_vocabulary:  # no pass-through exists for these: a text is nothing to an EmbeddingBag without one
            raise ValueError(
                f"The bag-of-words text modalities {no_vocabulary} have no vocabulary: fit the processor on the "
                f"training split first, `processor.fit(train_split)`, or load the fitted processor saved with the "
                f"model (`AutoProcessor.from_pretrained(folder)`)"
            )
        unfitted = self.feature_extractor.unfitted_names
        if unfitted and not self.allow_unfitted:
            raise ValueError(
                f"The dense modalities {unfitted} have no standardisation statistics: this processor is not fitted, "
                f"and a model trained on standardised features would get raw ones. Fit it on the training split "
                f"first, `processor.fit(train_split)` (e.g. `CLDMDFProcessor.from_config(config).fit(data['train'])`),"
                f" or load the fitted processor saved with the model (`AutoProcessor.from_pretrained(folder)`); "
                f"`allow_unfitted=True` passes raw values through"
            )

    def _process_modality(self, name: str, values: list, rows: np.ndarray, batch_size: int) -> Any:
        """The inputs of one modality (B, ...) from its P present entries `values` at rows `rows` (P,)."""
        spec = self.modalities[name]
        if spec["type"] == "dense":
            return self.feature_extractor(name, values, rows, batch_size)
        if name in self.text_vocabularies:
            return bag_of_words_inputs(name, self.text_vocabularies[name], values, rows, batch_size)
        if values and is_vector(values[0]):
            return {"pooled_output": pooled_inputs(name, values, rows, batch_size)}
        if spec["type"] == "text":
            tokenizer = self.sub_processors[name]
            return text_inputs(name, tokenizer, values, rows, batch_size, self.max_length, self.padding)
        if uses_cnn(spec):  # resized here, the same way in training and evaluation (augmentation is the model's)
            return cnn_image_inputs(name, spec, values, rows, batch_size)
        return image_processor_inputs(name, self.sub_processors[name], values, rows, batch_size, self._image_shapes)

    # ----------------------------------------------------------------------------------------------------------------
    # Saving and loading

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable state written to `processor_config.json` (sub-processors are saved in sub-folders).

        Statistics are float32 values written as Python floats (exact doubles), so they reload bit-identical
        (`CLDMDFDenseFeatureExtractor.to_dict`).
        """
        output = {
            "processor_class": type(self).__name__,
            "modalities": copy.deepcopy(self.modalities),
            "max_length": self.max_length,
            "padding": self.padding,
            "min_std": self.min_std,
            "allow_unfitted": self.allow_unfitted,
            "dense_statistics": self.feature_extractor.to_dict(),
        }
        if self.bag_of_words_names:  # only then, so that the folders of other processors stay as they were
            output["bag_of_words_min_df"] = self.bag_of_words_min_df
            output["bag_of_words_ngram_range"] = list(self.bag_of_words_ngram_range)
            output["text_vocabularies"] = {name: v.to_dict() for name, v in self.text_vocabularies.items()} or None
        if getattr(self, "auto_map", None):
            output["auto_map"] = copy.deepcopy(self.auto_map)
        return output

    def save_pretrained(self, save_directory: Union[str, os.PathLike], push_to_hub: bool = False, **kwargs) -> list:
        """Saves `processor_config.json`, this file (remote code) and each sub-processor in its sub-folder.

        Args:
            save_directory (`str` or `os.PathLike`):
                Folder to write to (created if needed).
            push_to_hub (`bool`, *optional*, defaults to `False`):
                Whether to also push the folder's content to the Hub, through [`~ProcessorMixin.push_to_hub`].
            kwargs:
                With `push_to_hub`: `repo_id` (defaults to the folder name) and the arguments of `push_to_hub`.

        Returns:
            `list[str]`: the files written by the mixin (the processor config).
        """
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(str(save_directory))))
            files = self.save_pretrained(save_directory)
            self.push_to_hub(repo_id, **kwargs)
            return files
        os.makedirs(save_directory, exist_ok=True)
        for name, sub in self.sub_processors.items():
            sub.save_pretrained(os.path.join(save_directory, subfolder_of(name, self.modalities[name]["type"])))
        return super().save_pretrained(save_directory, **kwargs)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: Union[str, os.PathLike],
        cache_dir: Optional[Union[str, os.PathLike]] = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: Optional[Union[str, bool]] = None,
        revision: str = "main",
        **kwargs,
    ) -> "CLDMDFProcessor":
        """Loads a processor saved with [`~CLDMDFProcessor.save_pretrained`] from a folder or a Hub repo.

        Args:
            pretrained_model_name_or_path (`str` or `os.PathLike`):
                A local folder or a Hub repo id.
            cache_dir, force_download, local_files_only, token, revision:
                Hub download options, as in `ProcessorMixin.from_pretrained`.
            kwargs:
                `subfolder`, `trust_remote_code` (passed on to the sub-processors), and overrides of the saved
                arguments (e.g. `max_length=64`).
        """
        hub_kwargs = {
            "cache_dir": cache_dir,
            "force_download": force_download,
            "local_files_only": local_files_only,
            "token": token,
            "revision": revision,
        }
        subfolder = kwargs.pop("subfolder", "") or ""
        trust_remote_code = kwargs.pop("trust_remote_code", None)
        kwargs.pop("_from_auto", None)
        kwargs.pop("code_revision", None)
        processor_dict, _ = cls.get_processor_dict(pretrained_model_name_or_path, subfolder=subfolder, **hub_kwargs)
        if "modalities" not in processor_dict and "modalities" not in kwargs:
            where = (
                os.path.join(str(pretrained_model_name_or_path), subfolder)
                if subfolder
                else str(pretrained_model_name_or_path)
            )
            if os.path.isdir(where) and not os.path.isfile(os.path.join(where, PROCESSOR_CONFIG_FILE)):
                raise ValueError(
                    f"{PROCESSOR_CONFIG_FILE} is missing from the folder {where!r}: the fitted processor (modalities, "
                    f"standardisation statistics) is saved there by `processor.save_pretrained(folder)` (the training "
                    f"script writes it next to the model); copy it from where the model was trained, or build one "
                    f"from the model config and fit it on the training split with "
                    f"`CLDMDFProcessor.from_config(config).fit(train_split)`"
                )
            raise ValueError(
                f"{str(pretrained_model_name_or_path)!r} has no CL-DMDF processor_config.json (with `modalities`); "
                f"save a processor there first, or build one from the model config and fit it on the training split "
                f"with `CLDMDFProcessor.from_config(config).fit(train_split)`"
            )
        modalities = _normalize_modalities(kwargs.get("modalities", processor_dict.get("modalities")))

        given = kwargs.pop("sub_processors", None) or {}
        sub_processors = load_sub_processors(
            pretrained_model_name_or_path, modalities, given, subfolder, trust_remote_code, hub_kwargs
        )
        return super().from_pretrained(
            pretrained_model_name_or_path, subfolder=subfolder, sub_processors=sub_processors, **hub_kwargs, **kwargs
        )
