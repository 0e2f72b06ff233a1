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
"""The default encoder of an image modality: a small convolutional network trained from scratch, with no backbone
to download.

An image spec without a `backbone` is a CNN spec (`{"type": "image", "encoder": "cnn", ...}`). Its processor side
(the spec's keys, the resize to `image_size`) is `image_processing_cldmdf.py`; its model side is
`CLDMDFImageCNNEncoder` here (conv-GroupNorm-ReLU stages, average pooling to a `pool_size` x `pool_size` grid, a
Linear from the flattened grid to the modality token), which also applies the training-time augmentation (random
shifts, optional horizontal flips) while the model is in training mode, and never in evaluation mode.

GroupNorm rather than BatchNorm: a row's token is a function of that row alone (no batch statistics, no running
averages), so a missing row, zero-filled before the first layer, cannot change any other row's output, and a saved
model predicts exactly what it predicted before saving.

This file travels to the Hub as remote code with the modeling files: it imports only torch and the standard library.
"""

from collections.abc import Mapping
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import nn

from .image_processing_cldmdf import (
    CNN_SPEC_KEYS,
    as_pil_image,
    cnn_pixel_values,
    is_cnn_image_spec,
    normalize_cnn_image_spec,
)

__all__ = [
    "CNN_SPEC_KEYS",
    "CLDMDFImageCNNEncoder",
    "as_pil_image",
    "cnn_pixel_values",
    "is_cnn_image_spec",
    "normalize_cnn_image_spec",
    "random_shift_and_flip",
]


def random_shift_and_flip(
    pixels: torch.Tensor, shift: int, flip: bool, generator: Union[torch.Generator, None] = None
) -> torch.Tensor:
    """Training-time augmentation of a batch `(B, C, H, W)`: each image shifted by its own random offset of up to
    `shift` pixels in each direction (edge pixels repeated into the gap: the replicate-pad-and-crop augmentation),
    and, with `flip`, mirrored left-right with probability 1/2. Returns a new tensor of the same shape."""
    if shift > 0:
        batch, _, height, width = pixels.shape
        padded = F.pad(pixels, (shift, shift, shift, shift), mode="replicate")  # (B, C, H + 2s, W + 2s)
        offsets = torch.randint(0, 2 * shift + 1, (2, batch), generator=generator, device=pixels.device)
        rows = offsets[0, :, None] + torch.arange(height, device=pixels.device)  # (B, H)
        cols = offsets[1, :, None] + torch.arange(width, device=pixels.device)  # (B, W)
        index = torch.arange(batch, device=pixels.device)[:, None, None]
        pixels = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if flip:
        mirror = torch.rand(pixels.shape[0], generator=generator, device=pixels.device) < 0.5
        pixels = torch.where(mirror.view(-1, 1, 1, 1), pixels.flip(-1), pixels)
    return pixels.contiguous()


def _groups(width: int) -> int:
    """GroupNorm groups: 8 channels a group where the width allows it (GroupNorm's usual 32 groups are too many for
    widths of 32), else the largest divisor of the width up to 8 groups."""
    return next(g for g in (width // 8, 8, 4, 2, 1) if g >= 1 and width % g == 0)


class CLDMDFImageCNNEncoder(nn.Module):
    """
    `image` modality without a backbone: stages of Conv3x3 -> GroupNorm -> ReLU, each but the last followed by a 2x2
    max-pool; average pooling to a `pool_size` x `pool_size` grid, flattened; Dropout; Linear to `hidden_size`.
    Training-time augmentation (random shifts, optional flips: `random_shift_and_flip`) runs on the present rows
    while the module is in training mode.

    Inputs:
        pixel_values (`(B, C, S, S)` floats in [0, 1], or `{"pixel_values": ...}`); present (`(B,)` bool): rows whose
        image is missing are zero-filled before the first layer, so their values reach nothing.
    Returns:
        the modality token `(B, D)`.
    """

    def __init__(self, spec: Mapping[str, Any], config: Any):
        super().__init__()
        self.augment_shift = spec["augment_shift"]
        self.augment_flip = spec["augment_flip"]
        self.num_channels = spec["num_channels"]
        layers, width_in = [], spec["num_channels"]
        widths = spec["cnn_channels"]
        for stage, width in enumerate(widths):
            convolution = nn.Conv2d(width_in, width, kernel_size=3, padding=1, bias=False)
            convolution.he_init = True  # read by `CLDMDFPreTrainedModel._init_weights`: He, not the 0.02 normal
            layers += [
                convolution,
                nn.GroupNorm(_groups(width), width, eps=config.layer_norm_eps),
                nn.ReLU(),
            ]
            if stage < len(widths) - 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            width_in = width
        self.features = nn.Sequential(*layers)
        self.pool_size = spec["pool_size"]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.projection = nn.Linear(width_in * self.pool_size**2, config.hidden_size)

    def forward(self, inputs: Union[torch.Tensor, Mapping[str, torch.Tensor]], present: torch.Tensor) -> torch.Tensor:
        pixels = inputs["pixel_values"] if isinstance(inputs, Mapping) else inputs  # (B, C, S, S)
        if pixels.shape[1] != self.num_channels:
            raise ValueError(
                f"The CNN image encoder takes pixel values with {self.num_channels} channel(s) (`num_channels` of its "
                f"spec), got shape {tuple(pixels.shape)}."
            )
        # Missing rows are zero-filled first: NaN/inf placeholders reach no layer and no gradient.
        pixels = torch.where(present.view(-1, 1, 1, 1), pixels, torch.zeros_like(pixels))
        if self.training and (self.augment_shift > 0 or self.augment_flip):
            pixels = random_shift_and_flip(pixels, self.augment_shift, self.augment_flip)
        features = F.adaptive_avg_pool2d(self.features(pixels), self.pool_size).flatten(1)  # (B, C_last * pool^2)
        return self.projection(self.dropout(features))
