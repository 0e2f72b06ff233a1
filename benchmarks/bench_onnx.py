"""Inference rows/s of a saved classifier, PyTorch eager against ONNX Runtime, at batch 1 and 256 with 1 and 2
threads, on the bundled UCI test rows (processed once: the models alone are timed).

    python -m benchmarks.bench_onnx MODEL_DIR ONNX_DIR    # ONNX_DIR from `cldmdf-export MODEL_DIR ONNX_DIR`
"""

import sys
import time

import onnxruntime
import pyarrow.parquet as pq
import torch
from transformers import AutoModelForSequenceClassification, AutoProcessor

import modeling_cldmdf  # noqa: F401  (registers CL-DMDF with the Auto classes)
from benchmarks.common import REPO_ROOT, RESULTS_DIR, provenance, write_json

TEST_FILE = REPO_ROOT / "bundled_datasets/uci_multifeature/data/test-00000-of-00001.parquet"


def rows_per_second(run, batches: list, seconds: float = 2.0) -> float:
    """Rows/s of `run(batch)` over `batches` of 2-tuples (inputs, rows), cycled for `seconds` after a warm-up."""
    run(batches[0][0])
    rows, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for batch, size in batches:
            run(batch)
            rows += size
    return rows / (time.perf_counter() - start)


def main(model_dir: str, onnx_dir: str) -> None:
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    table = pq.read_table(TEST_FILE).to_pydict()
    results = []
    for batch_size in (1, 256):
        chunks = [{name: table[name][i : i + batch_size] for name in processor.modality_names}
                  for i in range(0, 256 if batch_size == 1 else 400, batch_size)]  # fmt: skip
        eager_batches = [(processor(chunk), len(chunk["fac"])) for chunk in chunks]
        onnx_batches = [(processor(chunk, "np").flatten(), len(chunk["fac"])) for chunk in chunks]
        for threads in (1, 2):
            torch.set_num_threads(threads)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            session = onnxruntime.InferenceSession(f"{onnx_dir}/model.onnx", options)
            with torch.inference_mode():
                eager = rows_per_second(lambda batch: model(**batch), eager_batches)
            ort = rows_per_second(lambda batch, s=session: s.run(["logits"], batch), onnx_batches)
            results.append({"batch_size": batch_size, "threads": threads, "eager": eager, "onnxruntime": ort})
            print(f"batch {batch_size:>3}, {threads} thread(s): eager {eager:>8.0f} rows/s, ONNX Runtime {ort:>8.0f}")
    command = "python -m benchmarks.bench_onnx " + " ".join(sys.argv[1:])
    write_json(RESULTS_DIR / "onnx.json", {**provenance("onnx", command), "rows_per_s": results})


if __name__ == "__main__":
    main(*sys.argv[1:3])
