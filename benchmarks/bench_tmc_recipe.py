"""TMC's own recipe on our UCI split: how far is the published 98.51 from what TMC itself gets on this test split?

The issue's bar for CL-DMDF at η = 0 is TMC's published UCI Multiple Features accuracy (98.51 ± 0.15, Han et al.,
ICLR 2021), measured on TMC's own split. This script runs TMC the way its code does on that dataset, on the bundled
dataset's train + validation rows (1,600, TMC's 80 %) and its 400-row test split: one linear evidential layer per view
on the features (no hidden layer), Dempster's rule over the views, the evidential loss of every view and of the
combination with the KL term annealed over 50 epochs, Adam (lr 0.003, weight decay 1e-5), batch 200, 500 epochs, the
last epoch evaluated (no early stopping, no validation split). The combination and the loss are the library's
(`modeling_cldmdf.modeling_baselines`, tested against the paper's formulas), and so is the KL annealing
(`training.objectives.tmc_kl_weight`); the features are standardised with the training statistics (TMC min-max
scales them). Evaluation: the test split at the missing rates η of `bench_accuracy.py`, with the same seeded
patterns (`CLDMDFDataCollator(missing_rate=η, seed=0)`).

Run from the repository root:

    python -m benchmarks.bench_tmc_recipe [--seeds 0,1,2,3,4] [--output benchmarks/results/tmc_recipe_uci.json]
    python -m benchmarks.bench_tmc_recipe --quick     # smoke test: 2 epochs, seed 0, written to a temp folder

Prints a table (accuracy %, mean ± std over seeds) and writes a JSON file with the command, the git commit and the
machine.
"""

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from benchmarks.common import (
    REPO_ROOT,
    command_line,
    condition_name,
    default_output,
    mean_std,
    offline_environment,
    provenance,
    run_cli,
    write_json,
)
from cldmdf.evaluation.results import parse_missing_rates
from cldmdf.processing.collator import CLDMDFDataCollator
from cldmdf.training.objectives import tmc_kl_weight
from modeling_cldmdf.modeling_baselines import evidential_loss, tmc_fusion
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor

DATASET = "bundled_datasets/uci_multifeature"
EVAL_SEED = 0  # train_accelerate.py's default --eval_seed: the patterns of the accuracy benchmark


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=None, help="Comma-separated seeds (default 0,1,2,3,4; quick 0).")
    parser.add_argument("--epochs", type=int, default=None, help="Training epochs (default 500, TMC's; quick 2).")
    parser.add_argument("--annealing-epochs", type=int, default=50, help="Epochs of KL annealing (TMC's 50).")
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="Adam learning rate (TMC's 0.003).")
    parser.add_argument("--weight-decay", type=float, default=1e-5, help="Adam weight decay (TMC's 1e-5).")
    parser.add_argument("--batch-size", type=int, default=200, help="Rows per step (TMC's 200).")
    parser.add_argument("--eval-missing-rates", default="0,0.1,0.3,0.5", help="Comma-separated η values.")
    parser.add_argument("--quick", action="store_true", help="Smoke test: 2 epochs, seed 0.")
    parser.add_argument(
        "--output", default=None, help="Results JSON (default: benchmarks/results/tmc_recipe_uci.json)."
    )
    args = parser.parse_args(argv)
    args.command = command_line(__file__, argv)
    return args


def resolve_args(args: argparse.Namespace) -> None:
    """Fills the defaults that depend on --quick and validates the numbers; raises ValueError."""
    if args.seeds is None:
        args.seeds = "0" if args.quick else "0,1,2,3,4"
    if args.epochs is None:
        args.epochs = 2 if args.quick else 500
    try:
        args.seed_list = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    args.rates = parse_missing_rates(args.eval_missing_rates, flag="--eval-missing-rates")
    if not args.seed_list:
        raise ValueError(f"--seeds must name at least one seed, got {args.seeds!r}")
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.annealing_epochs < 0 or args.learning_rate <= 0 or args.weight_decay < 0:
        raise ValueError("--annealing-epochs and --weight-decay must be >= 0 and --learning-rate > 0")
    args.output = default_output(args, "tmc_recipe_uci.json")


def load_batches(rates: list[float]) -> tuple[dict, dict[float, dict], dict]:
    """The training rows (train + validation, complete) as one batch, the test split at each η, and the specs."""
    from datasets import concatenate_datasets

    from cldmdf.processing.loading import load_multimodal_dataset

    data = load_multimodal_dataset(str(REPO_ROOT / DATASET))
    train = concatenate_datasets([data.dataset["train"], data.dataset["validation"]])
    processor = CLDMDFProcessor(data.modalities).fit(train)  # training statistics only

    def collate(split, rate: float = 0.0) -> dict:
        collator = CLDMDFDataCollator(
            processor,
            label_column=data.label_column,
            row_id_column=data.row_id_column,
            missing_rate=rate,
            seed=EVAL_SEED,
        )
        return collator(list(split))

    return collate(train), {rate: collate(data.dataset["test"], rate) for rate in rates}, data.modalities


def train_and_evaluate(args, seed: int, train: dict, tests: dict[float, dict], modalities: dict) -> dict:
    """One TMC run: returns the test accuracy at each η after the last epoch."""
    torch.manual_seed(seed)
    names = list(modalities)
    num_classes = int(train["labels"].max()) + 1
    heads = nn.ModuleList(nn.Linear(modalities[name]["dim"], num_classes) for name in names)
    optimizer = torch.optim.Adam(heads.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    features, labels = [train["modality_inputs"][name] for name in names], train["labels"]
    present = torch.ones(len(labels), len(names), dtype=torch.bool)  # TMC trains on complete rows
    for epoch in range(args.epochs):
        kl_weight = tmc_kl_weight(epoch, args.annealing_epochs)
        for rows in torch.randperm(len(labels)).split(args.batch_size):
            outputs = torch.stack([head(values[rows]) for head, values in zip(heads, features)], dim=1)
            view_alphas, alphas, _ = tmc_fusion(outputs, present[rows])
            loss = 0.0
            for opinion in (alphas, *view_alphas.unbind(dim=1)):  # the combination, then every view
                expected_ce, kl = evidential_loss(opinion, labels[rows])
                loss = loss + (expected_ce + kl_weight * kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    accuracy = {}
    with torch.no_grad():
        for rate, batch in tests.items():
            outputs = torch.stack([head(batch["modality_inputs"][name]) for head, name in zip(heads, names)], dim=1)
            _, alphas, _ = tmc_fusion(outputs, batch["modality_mask"])
            accuracy[condition_name(rate)] = float((alphas.argmax(-1) == batch["labels"]).double().mean())
    return accuracy


def main(args: argparse.Namespace) -> dict:
    resolve_args(args)
    offline_environment()
    train, tests, modalities = load_batches(args.rates)
    runs = []
    for seed in args.seed_list:
        start = time.perf_counter()
        accuracy = train_and_evaluate(args, seed, train, tests, modalities)
        runs.append({"seed": seed, "accuracy": accuracy, "wall_s": round(time.perf_counter() - start, 3)})
        cells = ", ".join(f"η={key.split('_')[1]} {100 * value:.2f}" for key, value in accuracy.items())
        print(f"seed {seed}: {cells} ({runs[-1]['wall_s']:.1f} s)")
    conditions = [condition_name(rate) for rate in args.rates]
    summary = {condition: mean_std([run["accuracy"][condition] for run in runs]) for condition in conditions}
    print(f"{'η':>6} {'accuracy %':>16}")
    for condition, stats in summary.items():
        std = f" ± {100 * stats['std']:.2f}" if stats["std"] is not None else ""
        print(f"{condition.split('_')[1]:>6} {100 * stats['mean']:>10.2f}{std}")
    record = {
        **provenance("tmc_recipe", args.command),
        "setting": {
            "dataset": DATASET,
            "train_rows": len(train["labels"]),
            "test_rows": len(tests[0.0]["labels"]),
            "epochs": args.epochs,
            "annealing_epochs": args.annealing_epochs,
            "learning_rate": args.learning_rate,
            "weight_decay": args.weight_decay,
            "batch_size": args.batch_size,
            "eval_missing_rates": args.rates,
            "eval_seed": EVAL_SEED,
            "quick": args.quick,
        },
        "conditions": conditions,
        "runs": runs,
        "summary": summary,
    }
    print(f"wrote {write_json(Path(args.output), record)}")
    return record


if __name__ == "__main__":
    run_cli(__file__, parse_args, main)
