"""Data path for CL-DMDF: dataset loading with schema inference, missing-modality collation and missing patterns.

The processor itself (`CLDMDFProcessor`) lives in `modeling_cldmdf/processing_cldmdf.py` because it travels to the Hub
with the model as remote code.
"""

from .collator import CLDMDFDataCollator
from .loading import MultimodalDataset, load_multimodal_dataset, prepare_multimodal_dataset, rows_without_modalities
from .missing import missing_pattern, modality_dropout_mask

__all__ = [
    "CLDMDFDataCollator",
    "MultimodalDataset",
    "load_multimodal_dataset",
    "missing_pattern",
    "modality_dropout_mask",
    "prepare_multimodal_dataset",
    "rows_without_modalities",
]
