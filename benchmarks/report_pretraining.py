"""The report's pre-training section (`pretraining_reviews.json` of `bench_pretraining.py`): fine-tuning a
pre-trained CL-DMDF against training it from scratch when few rows carry labels."""

from benchmarks.common import percent
from benchmarks.report_format import provenance_lines, table

ARMS = {"from_scratch": "from scratch", "fine_tuned": "fine-tuned from the pre-trained checkpoint"}
RATES = (0.0, 0.3, 0.5)


def _cell(entry: dict, rate: float) -> str:
    return percent(entry.get("test_accuracy" + (f"_missing_{rate:g}" if rate else "")))


def pretraining_section(record: dict) -> list[str]:
    setting, summary = record.get("setting", {}), record.get("summary", {})
    seeds = [entry["seed"] for entry in record.get("seeds", [])]
    lines = ["## Pre-training on unlabelled rows, then fine-tuning", ""]
    budget = setting.get("pretraining_args") or "defaults"
    lines += [
        f"`{setting.get('dataset')}`: {100 * setting.get('label_fraction', 0):.0f} % of the train and validation rows "
        f"keep their labels (stratified, seeded); `--task pretraining` ({budget}) "
        "runs on every train row without its label, then the classifier is fine-tuned from it on the labelled rows, "
        "against the same classifier trained from scratch on them. Both with the defaults; test split whole; "
        f"accuracy %, mean ± std over seeds {seeds}.",
        "",
    ]
    rows = [
        [label, *(_cell(summary.get(arm, {}), rate) for rate in RATES), f"{summary[arm]['wall_time']['mean']:.0f}"]
        for arm, label in ARMS.items()
        if arm in summary
    ]
    lines += table(["classifier", "η = 0", "η = 0.3", "η = 0.5", "wall s"], rows) + [""]
    if "pretraining" in summary:
        lines += [f"Pre-training took {summary['pretraining']['wall_time']['mean']:.0f} s a seed.", ""]
    return lines + provenance_lines(record) + [""]


def pretraining_losses(record: dict) -> list[str]:
    """Each missing rate where fine-tuning from the pre-trained checkpoint is behind training from scratch."""
    summary, losses = record.get("summary", {}), []
    for rate in RATES:
        key = "test_accuracy" + (f"_missing_{rate:g}" if rate else "")
        tuned, scratch = summary.get("fine_tuned", {}).get(key), summary.get("from_scratch", {}).get(key)
        if tuned and scratch and tuned["mean"] < scratch["mean"]:
            losses.append(
                f"- Pre-training, η={rate:g}: fine-tuned {100 * tuned['mean']:.2f} < from scratch "
                f"{100 * scratch['mean']:.2f} ({100 * (tuned['mean'] - scratch['mean']):+.2f} points)."
            )
    return losses
