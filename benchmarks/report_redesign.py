"""The report's section on the redesign re-run (`redesign_suite.json` of `bench_suite.py`): UCI and reviews with the
defaults after the redesign, beside the same settings, seeds and split before it (`test_suite_before_redesign.json`:
`test_suite.json` as it was then, before the refit default replaced it)."""

from benchmarks.report_format import provenance_lines, table

SETTINGS = ("uci_full", "reviews_text_tabular")
RATES = (0.0, 0.3, 0.5)


def _accuracies(record: dict, setting: str, key: str, seeds: set) -> dict[int, float]:
    return {
        run["seed"]: run["results"][key]
        for run in record.get("runs", [])
        if run.get("setting") == setting and "results" in run and key in run["results"] and run["seed"] in seeds
    }


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5


def redesign_section(before: dict, after: dict) -> list[str]:
    """Per setting and η: accuracy before and after on the seeds both files have, and the paired difference."""
    rows = []
    for setting in SETTINGS:
        for rate in RATES:
            key = "test_accuracy" + (f"_missing_{rate:g}" if rate else "")
            seeds = {run["seed"] for run in after.get("runs", []) if run.get("setting") == setting}
            old, new = _accuracies(before, setting, key, seeds), _accuracies(after, setting, key, seeds)
            common = sorted(set(old) & set(new))
            if not common:
                continue
            (old_mean, old_std), (new_mean, new_std) = (_mean_std([d[s] for s in common]) for d in (old, new))
            diff_mean, diff_std = _mean_std([new[s] - old[s] for s in common])
            rows.append(
                [
                    setting,
                    f"{rate:g}",
                    str(len(common)),
                    f"{100 * old_mean:.2f} ± {100 * old_std:.2f}",
                    f"{100 * new_mean:.2f} ± {100 * new_std:.2f}",
                    f"{100 * diff_mean:+.2f} ± {100 * diff_std:.2f}",
                ]
            )
    lines = ["## The redesign re-run: UCI and reviews with the defaults, before and after", ""]
    lines += [
        "The same settings, seeds and test split as the suite section, trained with the defaults of the time (no "
        "refit, learning rate 1e-3) by the code before and after the redesign (CL-DMDF's model file, the reference "
        "models and the training objectives split apart); before: `test_suite_before_redesign.json`. Accuracy %; the "
        "difference is after minus before, seed by seed: +0.00 ± 0.00 is the same accuracy on every seed.",
        "",
    ]
    lines += table(["setting", "η", "seeds", "before", "after", "after − before"], rows) + [""]
    return lines + provenance_lines(after) + [""]
