"""Writes a small dataset the way users often have one: a CSV file per split, vectors stored as strings, gaps.

    python examples/own_data_csv.py my_data

`my_data/train.csv` and `my_data/test.csv` hold two views of the bundled UCI Multiple Features digits (`fou`, 76
Fourier coefficients, and `zer`, 47 Zernike moments) as "[0.1, 0.2, ...]" strings, an empty cell where a view is
missing (every 7th row lacks one), and the digit in `label`. README "Your own data, start to finish" trains on it:
the pre-flight check reads the string vectors as text until `--modality_types fou=dense,zer=dense` says otherwise.
"""

import csv
import sys
from pathlib import Path

from datasets import load_dataset

VIEWS = ("fou", "zer")


def write_split(rows, path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*VIEWS, "label"])
        for index, row in enumerate(rows):
            gap = VIEWS[index // 7 % 2] if index % 7 == 0 else None  # a missing view every 7th row
            cells = ["" if view == gap else "[" + ", ".join(f"{v:.6g}" for v in row[view]) + "]" for view in VIEWS]
            writer.writerow([*cells, row["label"]])


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(str(Path(__file__).resolve().parents[1] / "bundled_datasets" / "uci_multifeature"))
    write_split(data["train"], out / "train.csv")
    write_split(data["test"], out / "test.csv")
    print(f"wrote {out / 'train.csv'} ({len(data['train'])} rows) and {out / 'test.csv'} ({len(data['test'])} rows)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "my_data")
