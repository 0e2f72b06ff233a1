"""Inference rows/s of a saved classifier: PyTorch eager against ONNX Runtime, batch 1 and 256, 1 and 2 threads, on
the bundled UCI test rows (processed once: the model alone is timed).

    python -m benchmarks.bench_onnx MODEL_DIR [ONNX_DIR]    # ONNX_DIR: from `cldmdf-export`, written when missing
"""

import sys
import tempfile
import time
from pathlib import Path

import onnxruntime
import pyarrow.parquet as pq
import torch
from transformers import AutoModelForSequenceClassification, AutoProcessor

from benchmarks.common import RESULTS_DIR, provenance, write_json
from cldmdf.export import export_onnx

TEST_FILE = Path("bundled_datasets/uci_multifeature/data/test-00000-of-00001.parquet")


def rows_per_second(run, batches, min_seconds: float = 2.0) -> float:
    """Rows/s of `run` over `batches` (a list of inputs), repeated until `min_seconds` passed, after one warm-up."""
    run(batches[0])
    rows, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for batch, size in batches:
            run((batch, size))
            rows += size
    return rows / (time.perf_counter() - start)


def main(model_dir: str, onnx_dir: str) -> dict:
    if not (Path(onnx_dir) / "model.onnx").exists():
        export_onnx(model_dir, onnx_dir, program=False)
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    table = pq.read_table(TEST_FILE).to_pydict()
    columns = {name: table[name] for name in processor.modality_names}
    results = []
    for batch_size in (1, 256):
        starts = range(0, 256 if batch_size == 1 else 400, batch_size)
        chunks = [{name: values[i : i + batch_size] for name, values in columns.items()} for i in starts]
        torch_batches = [(processor(chunk), len(chunk[processor.modality_names[0]])) for chunk in chunks]
        numpy_batches = [(processor(chunk, "np").flatten(), size) for chunk, (_, size) in zip(chunks, torch_batches)]
        for threads in (1, 2):
            torch.set_num_threads(threads)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            session = onnxruntime.InferenceSession(str(Path(onnx_dir) / "model.onnx"), options)
            with torch.inference_mode():
                eager = rows_per_second(lambda item: model(**item[0]), torch_batches)
            ort = rows_per_second(lambda item, s=session: s.run(["logits"], item[0]), numpy_batches)
            results.append({"batch_size": batch_size, "threads": threads, "eager": eager, "onnxruntime": ort})
            print(
                f"batch {batch_size:>3}, {threads} thread(s): eager {eager:>9.0f} rows/s, "
                f"ONNX Runtime {ort:>9.0f} rows/s ({ort / eager:.2f}x)"
            )
    command = "python -m benchmarks.bench_onnx " + " ".join(sys.argv[1:])
    record = {**provenance("onnx", command), "rows": results, "onnxruntime": onnxruntime.__version__}
    write_json(RESULTS_DIR / "onnx.json", record)
    return record


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="cldmdf-onnx-"))
