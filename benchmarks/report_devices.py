"""The report's section "Speed and scaling on other devices": the speed and scaling sections again for every
`speed_*.json` and `scaling_*.json` (written by `scripts/gpu_check.sh` on a GPU machine), with their losses.
"""

from pathlib import Path

from benchmarks.common import read_json
from benchmarks.report_scaling import scaling_losses, scaling_section
from benchmarks.report_speed import speed_label, speed_losses, speed_section

OTHER_DEVICES_TEXT = (
    "The speed and scaling benchmarks again on another device (files `speed_*.json`, `scaling_*.json`; same "
    "configurations, same definitions). The GPU files were written by `bash scripts/gpu_check.sh OUT_DIR` on a GPU "
    "machine (it also runs `tests/test_cuda.py` and the main job in float32 and bf16) and copied from OUT_DIR into "
    "`benchmarks/results/`: the commands below show OUT_DIR. To regenerate on a GPU: "
    "`python benchmarks/bench_speed.py --device cuda --output benchmarks/results/speed_cuda.json` (add "
    "`--batch-size 4096 --output benchmarks/results/speed_cuda_b4096.json` for the large batch) and "
    "`python benchmarks/bench_scaling.py --device cuda --output benchmarks/results/scaling_cuda.json`."
)


def device_file_section(path: Path, record: dict, output: Path) -> tuple[list[str], list[str]]:
    """`(lines, losses)` of one `speed_*.json` or `scaling_*.json`, under a heading that names the file and device."""
    if path.name.startswith("speed_"):
        lines = speed_section(record, heading=f"### `{path.name}`: {speed_label(record)}")
        return lines, speed_losses(record)
    heading = f"### `{path.name}`: {record.get('setting', {}).get('device', '?')}"
    return scaling_section(record, path.with_suffix(".png"), output, heading=heading), scaling_losses(record)


def other_devices_section(results_dir: Path, output: Path) -> tuple[list[str], list[str]]:
    """`(lines, losses)` of every `speed_*.json` and `scaling_*.json` in `results_dir`; nothing without any."""
    paths = sorted(results_dir.glob("speed_*.json")) + sorted(results_dir.glob("scaling_*.json"))
    if not paths:
        return [], []
    lines = ["## Speed and scaling on other devices", "", OTHER_DEVICES_TEXT, ""]
    losses: list[str] = []
    for path in paths:
        record = read_json(path)
        if record is None:
            continue
        section, found = device_file_section(path, record, output)
        lines += section
        losses += found
    return lines, losses
