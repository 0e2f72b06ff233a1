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
"""The bag-of-words text encoder: a text's TF-IDF bag -> its modality token, with no pretrained backbone.

The encoder of a text modality whose spec is `{"type": "text", "encoder": "bag_of_words", "vocab_size": V, ...}`,
the default of `train_accelerate.py` for text columns. Its inputs come from the vocabulary the processor fitted on
the training split (`vocabulary_cldmdf.py`): `input_ids` `(B, L)` term ids and `per_sample_weights` `(B, L)` their
sub-linear TF-IDF weights (unit L2 norm per row; padding has weight 0).

This file travels to the Hub as remote code with the modeling file: it imports only torch.
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CLDMDFBagOfWordsEncoder"]


class CLDMDFBagOfWordsEncoder(nn.Module):
    """
    `text` modality without a backbone: the TF-IDF-weighted sum of term embeddings (a sparse linear layer on the
    TF-IDF vector, `nn.EmbeddingBag(mode="sum")`) + a bias -> GELU -> Dropout -> Linear to `hidden_size`: the dense
    encoder's two layers, the first one reading the bag. `bag_dropout` drops each term of a training bag with that
    probability (inverted dropout on its weight), a text augmentation.

    An empty bag (a present text none of whose terms is in the vocabulary) is a present modality: its token is the
    encoder's output for the zero vector, a learned constant of its own, different from the modality's missing
    embedding. A missing text (`present` False) never reaches the layers: its ids and weights are zeroed first.

    Inputs:
        inputs (`dict`): `input_ids` `(B, L)` int64 and `per_sample_weights` `(B, L)` float; present (`(B,)` bool).
    Returns:
        the tokens `(B, hidden_size)`.
    """

    def __init__(self, spec: dict, config):
        super().__init__()
        width = spec["embedding_dim"]
        self.bag = nn.EmbeddingBag(spec["vocab_size"], width, mode="sum")
        self.bias = nn.Parameter(torch.zeros(width))
        self.bag_dropout = spec["bag_dropout"]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.fc2 = nn.Linear(width, config.hidden_size)

    def forward(self, inputs: dict, present: torch.Tensor) -> torch.Tensor:
        keep = present.unsqueeze(-1)  # (B, 1)
        ids = torch.where(keep, inputs["input_ids"], torch.zeros_like(inputs["input_ids"]))  # (B, L)
        weights = inputs["per_sample_weights"].to(self.bag.weight.dtype)
        weights = torch.where(keep, weights, torch.zeros_like(weights))  # (B, L); NaN placeholders cannot pass
        weights = F.dropout(weights, self.bag_dropout, self.training)
        hidden = self.bag(ids, per_sample_weights=weights) + self.bias  # (B, E)
        return self.fc2(self.dropout(F.gelu(hidden)))
