"""The documentation stands alone: the README opens with the quickstart, and every link and every document the code
cites is a file of this repository (the README's quickstart itself runs in tests/training/test_predict.py)."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A document named in code: a path ending in .md that contains a folder or is one of the repository's own pages.
CITED = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.md)\b(?!\.j2)")
# Markdown files that code names but that are written at run time (model and dataset cards), not documents.
WRITTEN_AT_RUN_TIME = {"README.md", "output_dir/README.md", "template.md", "B.md"}


def tracked_files(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in listed.stdout.splitlines()]


def test_the_readme_opens_with_the_quickstart_and_stays_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the details belong in docs/"
    heading = next(i for i, line in enumerate(lines) if line.startswith("## Quickstart"))
    block = lines.index("```python", heading)
    end = lines.index("```", block + 1)
    assert end < 60, f"the quickstart ends at line {end + 1}: it must be on the first screen"
    code = "\n".join(lines[block + 1 : end])
    assert "pipeline(" in code and "None" in code, "the quickstart predicts rows with a missing modality"
    assert end - block - 1 <= 15


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_of_a_page_is_a_file_of_the_repository(page):
    for target in LINK.findall(page.read_text()):
        assert "://" not in target, f"{page.name} links outside the repository: {target}"
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to {target}, which does not exist"


def test_every_document_the_code_cites_is_in_the_repository():
    cited = {}
    for path in tracked_files("*.py"):
        for name in CITED.findall(path.read_text()):
            if name not in WRITTEN_AT_RUN_TIME:
                cited.setdefault(name, path.relative_to(ROOT))
    assert cited, "the pattern found no citation at all"
    missing = {name: str(path) for name, path in cited.items() if not any(ROOT.glob(f"**/{name}"))}
    assert not missing, f"cited but not in the repository: {missing}"
    assert "docs/methods.md" in cited


def test_no_file_points_outside_the_repository():
    outside = re.compile(r"\.\./shared|\bDESIGN\.md\b|\bMETHODS\.md\b")
    offenders = [
        str(path.relative_to(ROOT))
        for path in tracked_files("*.py", "*.md", "*.toml", "*.sh", "*.yaml", "*.yml")
        if path.name != "test_docs.py" and outside.search(path.read_text(errors="replace"))
    ]
    assert not offenders, f"these files point at documents outside the repository: {offenders}"
