"""Every architecture and loss field of `CLDMDFConfig` changes what the model computes: a field the forward pass
ignored (a contrastive temperature never read, a dropout never applied) fails here, by name.

Each variant is built from the same seed as the base and given the base's weights wherever the shapes agree, so that
a field that changes no parameter (a temperature, a weight, a dropout, a switch) is compared on the same weights. The
base's weights are moved away from their initialisation first (at initialisation the missing embeddings, for one,
are too small for any output to show them)."""

import inspect

import pytest
import torch

from modeling_cldmdf import CLDMDFConfig, CLDMDFForPreTraining, CLDMDFForSequenceClassification

MODALITIES = {"a": {"type": "dense", "dim": 4}, "b": {"type": "dense", "dim": 3}, "c": {"type": "dense", "dim": 2}}
BASE = dict(hidden_size=16, num_attention_heads=2, intermediate_size=32, feature_attention_hidden_size=8)
# field -> a value other than the base's; every `__init__` argument of the config but `modalities` must be here.
CHANGES = {
    "hidden_size": 24,
    "num_fusion_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 16,
    "feature_attention_hidden_size": 4,
    "hidden_dropout_prob": 0.1,
    "attention_dropout_prob": 0.3,
    "classifier_dropout": 0.0,
    "dense_input_norm": True,
    "layer_norm_eps": 1e-1,
    "initializer_range": 0.5,
    "use_feature_attention": False,
    "use_modality_attention": False,
    "context_sees_missing": False,
    "fusion_mode": "mean",
    "use_auxiliary_heads": True,
    "aux_weight": 0.5,
    "fusion_use_confidence": True,
    "token_bottleneck": True,
    "projection_dim": 8,
    "contrastive_weight": 0.5,
    "contrastive_temperature": 0.5,
    "modality_dropout": 0.6,
    "reconstruction_weight": 0.5,
    "alone_weight": 0.0,
}


# Fields that only change how the weights are initialised: compared without copying the base's weights.
INITIALISATION_FIELDS = {"initializer_range"}


def build(model_class, **fields):
    torch.manual_seed(0)
    config = CLDMDFConfig(modalities=MODALITIES, num_labels=3, **{**BASE, **fields})
    return model_class(config)


def moved(model):
    """`model` with seeded noise (std 0.3) added to every parameter: weights as a trained model's, not an init's."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _, parameter in sorted(model.named_parameters()):
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return model


def with_base_weights(model, base) -> None:
    """`model` takes `base`'s value of every parameter and buffer of the same name and shape."""
    own, theirs = model.state_dict(), base.state_dict()
    model.load_state_dict({k: theirs[k] if k in theirs and theirs[k].shape == v.shape else v for k, v in own.items()})


def computed(model) -> list[torch.Tensor]:
    """The training loss (random draws seeded) and the evaluation outputs of a fixed batch with missing entries."""
    generator = torch.Generator().manual_seed(1)
    inputs = {name: torch.randn(12, spec["dim"], generator=generator) for name, spec in MODALITIES.items()}
    mask = torch.rand(12, 3, generator=generator) > 0.3
    mask[:, 0] |= ~mask.any(dim=1)
    labels = torch.randint(0, 3, (12,), generator=generator)
    kwargs = (
        {"modality_mask": mask}
        if isinstance(model, CLDMDFForPreTraining)
        else {"modality_mask": mask, "labels": labels}
    )
    torch.manual_seed(2)
    train_loss = model.train()(inputs, **kwargs).loss
    torch.manual_seed(2)
    evaluated = model.eval()(inputs, **kwargs)
    values = [train_loss, evaluated.loss]
    return values + ([evaluated.logits] if hasattr(evaluated, "logits") else [evaluated.pooler_output])


def test_every_config_argument_is_covered():
    arguments = set(inspect.signature(CLDMDFConfig.__init__).parameters) - {"self", "modalities", "kwargs"}
    assert arguments == set(CHANGES), "a config field without a test that it matters"


@pytest.mark.parametrize("field", list(CHANGES))
def test_changing_the_field_changes_what_the_model_computes(field):
    model_class = CLDMDFForPreTraining if field == "reconstruction_weight" else CLDMDFForSequenceClassification
    base = build(model_class)
    variant = build(model_class, **{field: CHANGES[field]})
    if field not in INITIALISATION_FIELDS:
        with_base_weights(variant, moved(base))
    with torch.no_grad():
        before, after = computed(base), computed(variant)
    differs = [
        not torch.allclose(x, y, rtol=1e-5, atol=1e-6) if x.shape == y.shape else True for x, y in zip(before, after)
    ]
    assert any(differs), f"{field} = {CHANGES[field]!r} computes what {BASE.get(field, 'the default')} computes"
