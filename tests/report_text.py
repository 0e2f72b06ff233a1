"""Reading the report that `benchmarks/report.py` writes, in the tests of `test_benchmarks.py` and
`test_make_report.py`."""


def section(text: str, title: str) -> str:
    """The markdown of one `## title...` section."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]
