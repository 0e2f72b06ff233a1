"""Small two-modality datasets for the script tests of several folders (pre-flight, predictions, run outputs): rows
with dense modalities `a` (3) and `b` (2) and a label, written as a parquet folder, and the flags of a run that
trains for two steps."""

import datasets
import numpy as np

FAST = ["--hidden_size", "16", "--max_train_steps", "2", "--eval_missing_rates", "0", "--skip_modality_removal"]


def rows(count: int, seed: int, labels=("no", "yes")) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "a": rng.normal(size=(count, 3)).astype(np.float32).tolist(),
        "b": rng.normal(size=(count, 2)).astype(np.float32).tolist(),
        "label": [labels[i % len(labels)] for i in range(count)],
    }


def write_folder(folder, train: dict, test: dict):
    folder.mkdir()
    datasets.Dataset.from_dict(train).to_parquet(str(folder / "train.parquet"))
    datasets.Dataset.from_dict(test).to_parquet(str(folder / "test.parquet"))
    return str(folder)
