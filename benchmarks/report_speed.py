"""The report's speed sections (`speed.json` and `speed_*.json` of `bench_speed.py`): training and inference
throughput, peak memory and FLOPs of every configuration against early fusion of the same width, the headline
ratio and its goal, the cost of each CL-DMDF option, and every CL-DMDF configuration slower than early fusion.
"""

from typing import Optional

from benchmarks.report_accuracy import REFERENCE_VARIANT
from benchmarks.report_format import provenance_lines, quick_warning, table

SPEED_REFERENCE = "early_fusion"
SPEED_BASELINES = ("early_fusion", "late_fusion", "tmc")  # not CL-DMDF: never listed among its losses
COMPILED_TEXT = ", every model through `torch.compile` (inductor; the compilation is in the untimed warm-up)"
SPEED_HEADER = [
    "configuration",
    "parameters",
    "train samples/s",
    "inference rows/s",
    "train ratio",
    "inference ratio",
    "peak memory (MiB)",
    "train MFLOP/row",
    "train GFLOP/s",
]


def throughput_ratios(entry: dict, reference: dict) -> dict:
    """Training and inference throughput of one configuration's results over another's."""
    return {
        "train": entry["train"]["samples_per_s"] / reference["train"]["samples_per_s"],
        "inference": entry["inference"]["rows_per_s"] / reference["inference"]["rows_per_s"],
    }


def speed_ratios(record: dict, name: str) -> Optional[dict]:
    entry = record["results"][name]
    if "ratio_to_early_fusion" in entry:
        return entry["ratio_to_early_fusion"]
    early = record["results"].get(SPEED_REFERENCE)
    if early is None:
        return None
    return throughput_ratios(entry, early)


def speed_label(record: dict) -> str:
    """`cpu, batch 256` / `cuda (NVIDIA H200), batch 4096`: which measurement a line about speed is from."""
    setting = record.get("setting", {})
    device = setting.get("device", "?")
    gpu = record.get("machine", {}).get("gpu")
    if device == "cuda" and gpu:
        device = f"cuda ({gpu.split(' (')[0]})"
    compiled = ", torch.compile" if setting.get("compile") else ""
    return f"{device}, batch {setting.get('batch_size')}{compiled}"


def speed_text(record: dict) -> str:
    """What was measured, and how."""
    setting = record.get("setting", {})
    return (
        f"Six dense modalities with the UCI dims, batch {setting.get('batch_size')}, hidden size "
        f"{setting.get('hidden_size')}, device {setting.get('device')}, {setting.get('optimizer')}"
        f"{COMPILED_TEXT if setting.get('compile') else ''}; median over "
        f"{setting.get('repeats')} interleaved rounds after {setting.get('warmup')} warm-up steps. Training step = "
        "forward + backward + optimizer step; inference = eval-mode forward under `torch.inference_mode()`. Ratios "
        "are to `early_fusion` (higher is faster; the goal for CL-DMDF's training ratio is "
        f"≥ {record.get('headline', {}).get('goal', 0.5)})."
    )


def speed_row(record: dict, name: str) -> list[str]:
    """The table row of one configuration."""
    entry = record["results"][name]
    ratios = speed_ratios(record, name)
    memory = entry.get("memory", {}).get("peak_mib")
    return [
        f"`{name}`",
        f"{entry.get('parameters', 0):,}",
        f"{entry['train']['samples_per_s']:,.0f}",
        f"{entry['inference']['rows_per_s']:,.0f}",
        f"{ratios['train']:.2f}" if ratios else "n/a",
        f"{ratios['inference']:.2f}" if ratios else "n/a",
        f"{memory:.0f}" if memory is not None else "n/a",
        f"{entry['train']['mflop_per_row']:.2f}" if "mflop_per_row" in entry["train"] else "n/a",
        f"{entry['train']['gflop_per_s']:.1f}" if "gflop_per_s" in entry["train"] else "n/a",
    ]


def headline_lines(record: dict) -> list[str]:
    """The headline ratio against its goal, and the FLOP ratio that explains it; nothing without a headline."""
    headline = record.get("headline", {})
    if not headline.get("ratios"):
        return []
    met = "met" if headline.get("train_goal_met") else "**not met**"
    lines = [
        f"Headline: `{headline['numerator']}` / `{headline['denominator']}` training throughput "
        f"{headline['ratios']['train']:.2f}, inference {headline['ratios']['inference']:.2f}; goal ≥ "
        f"{headline.get('goal', 0.5)} for training: {met}.",
        "",
    ]
    if headline["ratios"].get("train_flops"):
        flops = headline["ratios"]["train_flops"]
        lines += [
            f"Why: a `{headline['numerator']}` training row costs {flops:.1f}x the FLOPs of a "
            f"`{headline['denominator']}` row (torch's FlopCounterMode, forward + backward: each fusion layer "
            "runs on every modality token, early fusion's MLP once a row), so at equal FLOP/s its throughput "
            f"ratio would be {1 / flops:.2f}; the measured ratio is {headline['ratios']['train']:.2f}. Columns "
            "MFLOP/row and GFLOP/s show the arithmetic and how fast each configuration does it.",
            "",
        ]
    return lines


def option_costs(record: dict) -> list[str]:
    """The throughput of every CL-DMDF option relative to CL-DMDF with its defaults."""
    results = record.get("results", {})
    reference = results.get(REFERENCE_VARIANT)
    if reference is None:
        return []
    costs = []
    for name, entry in results.items():
        if name == REFERENCE_VARIANT or name in SPEED_BASELINES:
            continue
        ratios = throughput_ratios(entry, reference)
        costs.append(f"`{name}` {ratios['train']:.2f}x training, {ratios['inference']:.2f}x inference")
    if not costs:
        return []
    return [f"Throughput relative to `{REFERENCE_VARIANT}` (the cost of each option): " + "; ".join(costs) + ".", ""]


def memory_methods(record: dict) -> list[str]:
    """How peak memory was measured."""
    methods = {entry["memory"]["method"] for entry in record.get("results", {}).values() if "memory" in entry}
    return ["Peak memory: " + "; ".join(sorted(methods)) + ".", ""] if methods else []


def speed_section(
    record: dict, heading: str = "## Speed: CL-DMDF against early fusion of the same width"
) -> list[str]:
    lines = [heading, "", *quick_warning(record), speed_text(record), ""]
    lines += table(SPEED_HEADER, [speed_row(record, name) for name in record.get("results", {})]) + [""]
    lines += headline_lines(record) + option_costs(record) + memory_methods(record)
    return lines + provenance_lines(record) + [""]


def speed_losses(record: dict) -> list[str]:
    label = speed_label(record)
    lines = []
    for name in record.get("results", {}):
        if name in SPEED_BASELINES:
            continue
        ratios = speed_ratios(record, name)
        if ratios is None:
            continue
        slow = [f"{kind} {value:.2f}x" for kind, value in ratios.items() if value < 1]
        if slow:
            lines.append(f"- Speed ({label}): `{name}` is slower than `{SPEED_REFERENCE}`: " + ", ".join(slow) + ".")
    headline = record.get("headline", {})
    if headline.get("ratios") and not headline.get("train_goal_met"):
        lines.append(
            f"- Speed ({label}): the training-throughput goal (CL-DMDF / early fusion ≥ "
            f"{headline.get('goal', 0.5)}) is not met: {headline['ratios']['train']:.2f}."
        )
    return lines or [f"- Speed ({label}): no configuration is slower than early fusion."]
