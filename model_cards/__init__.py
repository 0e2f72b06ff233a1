# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""CL-DMDF model cards: `write_model_card` renders `template.md` through `huggingface_hub.ModelCard`."""

from .builder import build_eval_results, condition_of, infer_task_type, write_model_card
from .plots import plot_robustness
from .results import RobustnessResults, parse_results

__all__ = [
    "RobustnessResults",
    "build_eval_results",
    "condition_of",
    "infer_task_type",
    "parse_results",
    "plot_robustness",
    "write_model_card",
]
