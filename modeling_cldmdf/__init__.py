"""CL-DMDF for the Hugging Face stack.

Importing this package registers CL-DMDF with the transformers Auto classes, so that `AutoConfig`, `AutoModel`,
`AutoModelForSequenceClassification` and `AutoModelForPreTraining` load saved CL-DMDF folders without
`trust_remote_code`. The files of this folder are also the remote code that `save_pretrained` copies next to the
weights (they import only torch, transformers and each other).
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoProcessor,
)

from .configuration_baselines import EarlyFusionConfig, FusionBaselineConfig, LateFusionConfig, TMCConfig
from .configuration_cldmdf import CLDMDFConfig
from .modeling_baselines import (
    BASELINE_MODELS,
    EarlyFusionForSequenceClassification,
    FusionBaselineOutput,
    LateFusionForSequenceClassification,
    TMCForSequenceClassification,
)
from .modeling_cldmdf import (
    CLDMDF_AUTO_MAP,
    CLDMDFForPreTraining,
    CLDMDFForSequenceClassification,
    CLDMDFModel,
    CLDMDFModelOutput,
    CLDMDFPreTrainedModel,
    CLDMDFPreTrainingOutput,
    CLDMDFSequenceClassifierOutput,
    entity_centroid_loss,
)
from .pipeline_cldmdf import CLDMDF_PIPELINE_TASK, CLDMDFClassificationPipeline
from .processing_cldmdf import CLDMDFBatchFeature, CLDMDFProcessor

__version__ = "0.1.0"

__all__ = [
    "BASELINE_MODELS",
    "EarlyFusionConfig",
    "EarlyFusionForSequenceClassification",
    "FusionBaselineConfig",
    "FusionBaselineOutput",
    "LateFusionConfig",
    "LateFusionForSequenceClassification",
    "TMCConfig",
    "TMCForSequenceClassification",
    "CLDMDF_AUTO_MAP",
    "CLDMDF_PIPELINE_TASK",
    "CLDMDFBatchFeature",
    "CLDMDFClassificationPipeline",
    "CLDMDFConfig",
    "CLDMDFForPreTraining",
    "CLDMDFForSequenceClassification",
    "CLDMDFModel",
    "CLDMDFModelOutput",
    "CLDMDFPreTrainedModel",
    "CLDMDFPreTrainingOutput",
    "CLDMDFProcessor",
    "CLDMDFSequenceClassifierOutput",
    "entity_centroid_loss",
]

AutoConfig.register(CLDMDFConfig.model_type, CLDMDFConfig, exist_ok=True)
AutoModel.register(CLDMDFConfig, CLDMDFModel, exist_ok=True)
AutoModelForSequenceClassification.register(CLDMDFConfig, CLDMDFForSequenceClassification, exist_ok=True)
AutoModelForPreTraining.register(CLDMDFConfig, CLDMDFForPreTraining, exist_ok=True)
AutoProcessor.register(CLDMDFConfig, CLDMDFProcessor, exist_ok=True)
# The reference methods: each its own config (model_type) and model, loadable by name.
for _model_class in BASELINE_MODELS.values():
    AutoConfig.register(_model_class.config_class.model_type, _model_class.config_class, exist_ok=True)
    AutoModelForSequenceClassification.register(_model_class.config_class, _model_class, exist_ok=True)
    AutoProcessor.register(_model_class.config_class, CLDMDFProcessor, exist_ok=True)
    _model_class.config_class.register_for_auto_class("AutoConfig")
    _model_class.register_for_auto_class("AutoModelForSequenceClassification")

# With `_auto_class` set, `save_pretrained` copies the defining files next to the weights (remote code).
CLDMDFConfig.register_for_auto_class("AutoConfig")
CLDMDFModel.register_for_auto_class("AutoModel")
CLDMDFForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
CLDMDFForPreTraining.register_for_auto_class("AutoModelForPreTraining")
