# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""Deployment: a saved classifier as an ONNX model and a `torch.export` program (`cldmdf-export`)."""

from .onnx import export_onnx

__all__ = ["export_onnx"]
