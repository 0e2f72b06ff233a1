# Copyright 2026 The CL-DMDF contributors.
# Licensed under the Apache License, Version 2.0.
"""The old home of the refit on train + validation, which now lives with the loop it runs (`training.loop`); its
names stay importable from here."""

from .loop import refit_data, refit_length, refit_steps, should_refit

__all__ = ["refit_data", "refit_length", "refit_steps", "should_refit"]
