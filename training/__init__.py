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
"""The parts of `train_accelerate.py`, the script users run, one module per responsibility:

- `arguments`: the command line (its flags as the dataclasses of their groups), its checks and parse helpers
- `data`: loading, the pre-flight check, split selection, collators and dataloaders
- `model`: the model and processor to train, from flags or a checkpoint
- `methods`: the flags of the reference models and the training objectives, and what the loop calls of them
- `objectives`, `tuple_infonce`, `cal`: the training objectives (TupleInfoNCE, CAL, TMC's KL annealing)
- `budget`: the training budget in optimizer steps, and early stopping
- `loop`: the training loop (`fit`) and the refit on train + validation from the initial weights
- `evaluation`: validation during training, the final robustness sweep and what it measures
- `checkpointing`: saving checkpoints and resuming from them
- `tracking`: logging, trackers and the training-loss log
- `outputs`: the output folder (model, processor, results, predictions, card) and the Hub push

Helpers return what they compute: the parsed arguments stay what the user typed.
"""


class UserError(Exception):
    """A bad argument or dataset: reported in one line before any training starts."""
