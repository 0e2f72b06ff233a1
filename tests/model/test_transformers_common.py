"""transformers' own common tests, `ModelTesterMixin` and `ConfigTester`, run on CL-DMDF's three heads the way a
model inside transformers runs them.

The two test files come from the transformers source distribution of the installed version, which `scripts/test.sh`
downloads into .cache/wheels (a package-registry download; nothing is fetched here). They are extracted into
.cache/transformers-tests/ as a package, with the three sibling modules they import that the distribution does not
ship, written here: the export and generation mixins as empty classes (CL-DMDF generates nothing, and the export
mixin's torch.export tests are replaced by tests/export/, which exports the classifier to a torch.export program and
to ONNX and compares both with eager), and `config_common_kwargs`, the common configuration arguments that
`ConfigTester` checks a config keeps.

Skipped, each with its reason: the tests of a token vocabulary (CL-DMDF has no input embeddings to get, set or
resize) and those transformers itself skips without an accelerator or for features a model does not declare (RoPE,
experts, caches, flash attention). Three tests are written again here for inputs that are a dict of tensors per
modality (batching equivalence, eager against sdpa) and for the main input name, each saying why.
"""

import importlib
import inspect
import os
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

import pytest
import torch
import transformers
from transformers.testing_utils import (
    is_torch_bf16_available_on_device,
    is_torch_fp16_available_on_device,
    torch_device,
)

from modeling_cldmdf import CLDMDFConfig, CLDMDFForPreTraining, CLDMDFForSequenceClassification, CLDMDFModel

REPO = Path(__file__).resolve().parents[2]
SDIST = f"transformers-{transformers.__version__}.tar.gz"
PACKAGE = "transformers_common_tests"
SHIMS = {
    "exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
    "generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
    # PreTrainedConfig's common arguments with values other than their defaults: a config must keep each one.
    "utils/test_configuration_utils.py": (
        "config_common_kwargs = {\n"
        '    "return_dict": False,\n'
        '    "output_hidden_states": True,\n'
        '    "output_attentions": True,\n'
        '    "dtype": "float16",\n'
        '    "tie_word_embeddings": False,\n'
        '    "chunk_size_feed_forward": 5,\n'
        '    "architectures": ["CLDMDFModel"],\n'
        '    "id2label": {0: "no", 1: "yes"},\n'
        '    "label2id": {"no": 0, "yes": 1},\n'
        '    "problem_type": "single_label_classification",\n'
        '    "pad_token_id": 1,\n'
        '    "bos_token_id": 0,\n'
        '    "eos_token_id": 2,\n'
        "}\n"
    ),
}


def extract_common_tests() -> Path | None:
    """The folder holding the `transformers_common_tests` package, extracted once per transformers version; None
    when the source distribution was not downloaded."""
    wheels = Path(os.environ.get("CLDMDF_WHEEL_DIR", REPO / ".cache" / "wheels"))
    if not (wheels / SDIST).is_file():
        return None
    root = REPO / ".cache" / "transformers-tests" / transformers.__version__
    package = root / PACKAGE
    if not (package / "test_modeling_common.py").is_file():
        with tarfile.open(wheels / SDIST) as archive:
            for name in ("test_modeling_common.py", "test_configuration_common.py"):
                member = archive.extractfile(f"transformers-{transformers.__version__}/tests/{name}")
                package.mkdir(parents=True, exist_ok=True)
                (package / name).write_bytes(member.read())
        for relative, text in SHIMS.items():
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            (package / relative).write_text(text)
        for folder in (package, package / "exporters", package / "generation", package / "utils"):
            (folder / "__init__.py").touch()
    return root


ROOT = extract_common_tests()


def test_the_common_tests_are_present():
    """`scripts/test.sh` downloads the source distribution: there, its absence fails instead of skipping."""
    if ROOT is None:
        message = (
            f"{SDIST} not in .cache/wheels (run: python -m pip download --no-deps --no-binary :all: -d .cache/wheels "
            f"transformers=={transformers.__version__})"
        )
        if os.environ.get("CLDMDF_REQUIRE_SOURCE_WHEELS") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


if ROOT is not None:
    sys.path.insert(0, str(ROOT))
    modeling_common = importlib.import_module(f"{PACKAGE}.test_modeling_common")
    configuration_common = importlib.import_module(f"{PACKAGE}.test_configuration_common")

    class CLDMDFModelTester:
        """Tiny configs and inputs with random missing patterns, as transformers' `ModelTester`s build them. A row's
        modalities are its tokens: the attention maps and hidden states are over `seq_length` = M tokens."""

        def __init__(self, parent, batch_size: int = 13):
            self.parent = parent
            self.batch_size = batch_size
            self.dims = {"audio": 5, "tab": 3, "video": 4}
            self.seq_length = len(self.dims)
            self.hidden_size = 32
            self.num_hidden_layers = 2
            self.num_attention_heads = 4
            self.num_labels = 3
            self.is_training = True

        def get_config(self) -> CLDMDFConfig:
            return CLDMDFConfig(
                modalities={name: {"type": "dense", "dim": dim} for name, dim in self.dims.items()},
                hidden_size=self.hidden_size,
                num_fusion_layers=self.num_hidden_layers,
                num_attention_heads=self.num_attention_heads,
                intermediate_size=37,
                num_labels=self.num_labels,
                modality_dropout=0.0,
            )

        def prepare_config_and_inputs_for_common(self):
            generator = torch.Generator().manual_seed(0)
            inputs = {name: torch.randn(self.batch_size, dim, generator=generator) for name, dim in self.dims.items()}
            mask = torch.rand(self.batch_size, self.seq_length, generator=generator) < 0.6
            mask[torch.arange(self.batch_size), torch.arange(self.batch_size) % self.seq_length] = True
            return self.get_config(), {"modality_inputs": inputs, "modality_mask": mask}

    class CLDMDFCommonTest(modeling_common.ModelTesterMixin, unittest.TestCase):
        all_model_classes = (CLDMDFModel, CLDMDFForSequenceClassification, CLDMDFForPreTraining)
        test_resize_embeddings = False  # no token vocabulary

        def setUp(self):
            self.model_tester = CLDMDFModelTester(self)
            self.config_tester = configuration_common.ConfigTester(
                self,
                config_class=CLDMDFConfig,
                has_text_modality=False,
                modalities={"tab": {"type": "dense", "dim": 3}},
                hidden_size=32,
                num_attention_heads=4,
            )

        def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
            inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels)
            if return_labels and model_class is CLDMDFForSequenceClassification:
                inputs_dict["labels"] = torch.arange(self.model_tester.batch_size) % self.model_tester.num_labels
            elif return_labels and model_class is CLDMDFModel:  # its contrastive loss, asked for as CLIPModel's
                inputs_dict["return_loss"] = True
            return inputs_dict

        def test_config(self):
            self.config_tester.run_common_tests()

        @unittest.skip(reason="CL-DMDF has no token vocabulary: no input embeddings to get or set")
        def test_model_get_set_embeddings(self):
            pass

        def test_model_main_input_name(self):
            """transformers expects `forward`'s first argument, here `modality_inputs`: a dict, while `Trainer` counts
            `inputs[main_input_name].numel()` (its FLOPs and tokens seen). The main input is the `(B, M)`
            `modality_mask` every head takes, a row's modalities being its tokens; the Trainer tests run with it."""
            for model_class in self.all_model_classes:
                self.assertEqual(model_class.main_input_name, "modality_mask")
                self.assertIn("modality_mask", inspect.signature(model_class.forward).parameters)

        def test_batching_equivalence(self):
            """transformers' version slices the top-level tensors of the inputs into rows; `modality_inputs` is a
            dict of them. The same check, every tensor sliced: each row alone gives its row of the batch's outputs
            (the pre-training head with the entries to hide given: `inputs_for`)."""
            config, batch = self.model_tester.prepare_config_and_inputs_for_common()
            for model_class in self.all_model_classes:
                model = model_class(config).eval()
                inputs = inputs_for(model_class, batch)
                with torch.no_grad():
                    batched = model(**inputs)
                    for row in range(self.model_tester.batch_size):
                        single = model(**slice_row(inputs, row))
                        for key in ("last_hidden_state", "pooler_output", "logits", "modality_weights"):
                            if key in batched:
                                torch.testing.assert_close(single[key], batched[key][row : row + 1], msg=key)

        def check_training_gradient_checkpointing(self, gradient_checkpointing_kwargs=None):
            """Without `CLDMDFModel`, as transformers leaves out every base model: its loss, the contrastive one, reads
            the encoder tokens before the fusion layers, so no gradient goes through a checkpointed layer."""
            classes = self.all_model_classes
            self.all_model_classes = tuple(model_class for model_class in classes if model_class is not CLDMDFModel)
            try:
                super().check_training_gradient_checkpointing(gradient_checkpointing_kwargs)
            finally:
                self.all_model_classes = classes

        def check_eager_matches_sdpa(self, dtype: str):
            """transformers' version pads token sequences through an `attention_mask`; CL-DMDF's padding is its
            missing modalities (the `modality_mask`): the same comparison on random missing patterns, every head,
            eager against sdpa from the same saved weights, in `dtype`, with and without attention weights."""
            if dtype == "fp16" and not is_torch_fp16_available_on_device(torch_device):
                self.skipTest(f"float16 not supported on {torch_device}")
            if dtype == "bf16" and not is_torch_bf16_available_on_device(torch_device):
                self.skipTest(f"bfloat16 not supported on {torch_device}")
            torch_dtype, atol = {"fp32": (torch.float32, 1e-5), "bf16": (torch.bfloat16, 3e-2)}.get(
                dtype, (torch.float16, 5e-3)
            )
            config, batch = self.model_tester.prepare_config_and_inputs_for_common()
            batch["modality_inputs"] = {name: v.to(torch_dtype) for name, v in batch["modality_inputs"].items()}
            for model_class in self.all_model_classes:
                inputs = inputs_for(model_class, batch)
                with tempfile.TemporaryDirectory() as folder:
                    model_class(config).save_pretrained(folder)
                    eager, sdpa = (
                        model_class.from_pretrained(folder, attn_implementation=kind, dtype=torch_dtype).eval()
                        for kind in ("eager", "sdpa")
                    )
                self.assertEqual(sdpa.config._attn_implementation, "sdpa")
                for output_attentions in (False, True):
                    with torch.no_grad():
                        first = eager(**inputs, output_attentions=output_attentions)
                        second = sdpa(**inputs, output_attentions=output_attentions)
                    for key in ("last_hidden_state", "pooler_output", "logits", "modality_weights"):
                        if key in first:
                            torch.testing.assert_close(second[key], first[key], atol=atol, rtol=atol, msg=key)
                    self.assertEqual(second.attentions is not None, output_attentions)

    # The parameterized variants of transformers' test, by name, each run as the check above in its dtype.
    for _name in dir(modeling_common.ModelTesterMixin):
        if _name.startswith("test_eager_matches_sdpa_inference_"):
            _dtype = next(dtype for dtype in ("fp16", "bf16", "fp32") if f"_{dtype}_" in _name)
            setattr(CLDMDFCommonTest, _name, lambda self, dtype=_dtype: self.check_eager_matches_sdpa(dtype))

    def inputs_for(model_class: type, batch: dict) -> dict:
        """`batch` for `model_class`: the pre-training head gets the entries to hide (one per row with two present,
        from a fixed generator), which it otherwise draws for the batch as a whole."""
        if model_class is not CLDMDFForPreTraining:
            return batch
        hidden = CLDMDFForPreTraining.choose_hidden_modalities(batch["modality_mask"], torch.Generator())
        return dict(batch, reconstruction_mask=hidden)

    def slice_row(inputs: dict, row: int) -> dict:
        return {
            key: slice_row(value, row) if isinstance(value, dict) else value[row : row + 1]
            for key, value in inputs.items()
        }
