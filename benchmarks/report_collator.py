"""The report's collator section (`collator.json` of `bench_collator.py`): `CLDMDFDataCollator` against a naive
per-row `torch.stack`.
"""

from benchmarks.report_format import provenance_lines, quick_warning, table


def collator_section(record: dict) -> list[str]:
    setting = record.get("setting", {})
    lines = ["## Collator: `CLDMDFDataCollator` against a naive per-row `torch.stack`", "", *quick_warning(record)]
    lines += [
        f"Batch of {setting.get('batch_size')} rows, six dense modalities with the UCI dims, "
        f"{100 * setting.get('missing_rate', 0):.0f} % of the (row, modality) entries missing; median over "
        f"{setting.get('repeats')} calls after {setting.get('warmup')} warm-up calls. Both collators build the same "
        "batch.",
        "",
    ]
    rows = []
    for run in record.get("runs", []):
        for label, result in run["results"].items():
            speedup = f"{run['speedup']:.1f}x" if label == "CLDMDFDataCollator" else ""
            rows.append(
                [
                    run["row_format"],
                    label,
                    f"{1e3 * result['median_s']:.2f}",
                    f"{result['rows_per_s']:,.0f}",
                    speedup,
                ]
            )
    lines += table(["row values", "collator", "median ms", "rows/s", "speedup"], rows) + [""]
    return lines + provenance_lines(record) + [""]
