"""The benchmark scripts and the report that writes `BENCHMARKS.md` from their results.

A package of the repository, not installed with the library: run each script from the repository root as a module,
`python -m benchmarks.<script>` (`python -m benchmarks.bench_speed --quick`, `python -m benchmarks.report`).
"""
