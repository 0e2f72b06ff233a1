#!/usr/bin/env bash
# GPU checks, from the repository root of a machine with a CUDA device:
#   1. tests/test_cuda.py (CPU/GPU agreement, bf16 autocast steps of every option, saving from the GPU, bf16 training);
#   2. the README's main job (UCI Multiple Features, defaults) in float32 and with --mixed_precision bf16;
#   3. bench_speed.py at batch 256 (the CPU report's setting) and 4096, at 256 again with torch.compile (CL-DMDF and
#      early fusion), on the GPU.
# Results go to OUT_DIR (default outputs/gpu-check), flat, six files: summary.txt (each step's status and time, the
# tests' summary), main_job_{no,bf16}.json, speed_cuda{,_b4096,_compiled}.json.
#
# Usage: bash scripts/gpu_check.sh [OUT_DIR]
# It uses the `python3` on the PATH (or $PYTHON), whose torch must see the GPU, with this checkout on PYTHONPATH.
# On a machine without a package index, set CLDMDF_WHEELS to a folder of wheels for the dependencies that python
# lacks (e.g. datasets, evaluate): they are installed from there first.
# Every step runs even if an earlier one failed; the exit status is 1 if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-outputs/gpu-check}" && cd "${1:-outputs/gpu-check}" && pwd)
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
SUMMARY="$OUT/summary.txt"
failed=0

step() {  # step NAME COMMAND...: runs it, appends its status and wall time to the summary
    local name=$1 start=$SECONDS
    shift
    echo "== $name: $*"
    "$@"
    local rc=$?
    echo "$name: exit $rc, $((SECONDS - start)) s" | tee -a "$SUMMARY"
    [ "$rc" -eq 0 ] || failed=1
}

main_job() {  # main_job PRECISION: the README's main job, its all_results.json kept
    local dir
    dir=$(mktemp -d)
    "$PY" -m accelerate.commands.launch --num_processes 1 --num_machines 1 --mixed_precision "$1" \
        --dynamo_backend no train_accelerate.py --output_dir "$dir/model" &&
        cp "$dir/model/all_results.json" "$OUT/main_job_$1.json"
}

: >"$SUMMARY"
if [ -n "${CLDMDF_WHEELS:-}" ]; then
    step install "$PY" -m pip install --quiet --no-index --find-links "$CLDMDF_WHEELS" datasets evaluate
fi
"$PY" - <<'EOF' | tee -a "$SUMMARY"
import platform, torch, transformers, accelerate
assert torch.cuda.is_available(), "no CUDA device visible"
print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, transformers {transformers.__version__}, "
      f"accelerate {accelerate.__version__}, Python {platform.python_version()}")
EOF
step cuda_tests bash -c "set -o pipefail; '$PY' -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -30 | tee -a '$SUMMARY'"
step main_job_fp32 main_job no
step main_job_bf16 main_job bf16
step speed_b256 "$PY" -m benchmarks.bench_speed --device cuda --output "$OUT/speed_cuda.json"
step speed_b4096 "$PY" -m benchmarks.bench_speed --device cuda --batch_size 4096 --output "$OUT/speed_cuda_b4096.json"
step speed_b256_compiled "$PY" -m benchmarks.bench_speed --device cuda --compile --configs cldmdf,early_fusion \
    --warmup 20 --memory_steps 0 --output "$OUT/speed_cuda_compiled.json"
exit $failed
