"""A tiny CL-DMDF configuration and input builder shared by the model tests (as transformers' `ModelTester`s)."""

from typing import Optional

import torch

from modeling_cldmdf import BASELINE_MODELS, CLDMDFConfig


class CLDMDFModelTester:
    """Builds tiny configs (hidden size 32, 2 fusion layers) and random inputs with random missing patterns."""

    dims = {"tab": 5, "audio": 3, "video": 4}  # deliberately not in sorted order

    def __init__(self, batch_size: int = 8, num_labels: int = 3, seed: int = 0):
        self.batch_size = batch_size
        self.num_labels = num_labels
        self.seed = seed

    def get_config(self, **overrides) -> CLDMDFConfig:
        kwargs = dict(
            modalities={name: {"type": "dense", "dim": dim} for name, dim in self.dims.items()},
            hidden_size=32,
            num_fusion_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            feature_attention_hidden_size=16,
            projection_dim=16,
            num_labels=self.num_labels,
            modality_dropout=0.0,
        )
        kwargs.update(overrides)
        return CLDMDFConfig(**kwargs)

    def get_baseline_config(self, baseline: str, **overrides):
        """The config of a reference model (`"early_fusion"`, `"late_fusion"`, `"tmc"`) on the same modalities."""
        kwargs = dict(
            modalities={name: {"type": "dense", "dim": dim} for name, dim in self.dims.items()},
            hidden_size=32,
            num_labels=self.num_labels,
            modality_dropout=0.0,
        )
        kwargs.update(overrides)
        return BASELINE_MODELS[baseline].config_class(**kwargs)

    def random_mask(self, generator: torch.Generator, batch_size: Optional[int] = None) -> torch.Tensor:
        """Random (B, M) mask with at least one present modality per row."""
        batch_size = batch_size or self.batch_size
        num_modalities = len(self.dims)
        mask = torch.rand(batch_size, num_modalities, generator=generator) < 0.5
        forced = torch.randint(0, num_modalities, (batch_size,), generator=generator)
        mask[torch.arange(batch_size), forced] = True
        return mask

    def prepare_inputs(self, seed: Optional[int] = None, with_labels: bool = True) -> dict:
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        inputs = {name: torch.randn(self.batch_size, dim, generator=generator) for name, dim in self.dims.items()}
        batch = {"modality_inputs": inputs, "modality_mask": self.random_mask(generator)}
        if with_labels:
            batch["labels"] = torch.randint(0, self.num_labels, (self.batch_size,), generator=generator)
        return batch


def outputs_equal(first, second) -> bool:
    """Bitwise equality of two model outputs (ModelOutput or tuple), field by field."""
    first = first.to_tuple() if hasattr(first, "to_tuple") else first
    second = second.to_tuple() if hasattr(second, "to_tuple") else second
    if len(first) != len(second):
        return False
    for a, b in zip(first, second):
        if isinstance(a, tuple):
            if not outputs_equal(a, b):
                return False
        elif not torch.equal(a, b):
            return False
    return True
