"""Predict with an exported CL-DMDF model where torch is not installed: the folder's processor + ONNX Runtime.

    cldmdf-export outputs/cldmdf-uci outputs/cldmdf-uci-onnx      # where the library (and torch) is installed
    pip install onnxruntime transformers numpy pillow pyarrow      # anywhere else: no torch
    python examples/onnx_inference.py outputs/cldmdf-uci-onnx bundled_datasets/uci_multifeature/data/test-*.parquet

Prints the accuracy on the file's rows, with `--drop_rate` of the views dropped at random (each row keeps one).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime
import pyarrow.parquet as pq
from transformers import AutoProcessor


def random_mask(num_rows: int, num_modalities: int, drop_rate: float, seed: int) -> np.ndarray:
    """(B, M) presence: each entry dropped with probability `drop_rate`, one random modality kept in every row."""
    rng = np.random.default_rng(seed)
    mask = rng.random((num_rows, num_modalities)) >= drop_rate
    mask[np.arange(num_rows), rng.integers(0, num_modalities, num_rows)] = True
    return mask


def predict(folder: str, columns: dict, modality_mask=None, batch_size: int = 256) -> np.ndarray:
    """The predicted class ids of the rows in `columns` (modality name -> one entry per row, None = missing)."""
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    session = onnxruntime.InferenceSession(str(Path(folder) / "model.onnx"))
    num_rows = len(next(iter(columns.values())))
    predictions = []
    for start in range(0, num_rows, batch_size):
        rows = slice(start, start + batch_size)
        mask = None if modality_mask is None else modality_mask[rows]
        batch = processor({name: values[rows] for name, values in columns.items()}, "np", modality_mask=mask)
        predictions.append(session.run(["logits"], batch.flatten())[0].argmax(axis=-1))
    return np.concatenate(predictions)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="A folder written by cldmdf-export.")
    parser.add_argument("parquet", help="Rows with the model's modality columns and its label column.")
    parser.add_argument("--drop_rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = json.loads((Path(args.folder) / "config.json").read_text())
    table = pq.read_table(args.parquet).to_pydict()
    names = sorted(config["modalities"])
    mask = random_mask(len(table[names[0]]), len(names), args.drop_rate, args.seed) if args.drop_rate else None
    predicted = predict(args.folder, {name: table[name] for name in names}, mask)
    label2id = config["label2id"]
    labels = np.array([label2id[label] if isinstance(label, str) else label for label in table["label"]])
    accuracy = float((predicted == labels).mean())
    print(json.dumps({"rows": len(labels), "drop_rate": args.drop_rate, "accuracy": accuracy}))


if __name__ == "__main__":
    main()
