#!/usr/bin/env bash
# The GPU path in one go, on a machine with a CUDA GPU (run from anywhere; needs the dev venv or
# `pip install -e '.[test]'` with a CUDA build of torch):
#   1. the tests parametrized over device (cuda must run here, not skip),
#   2. the attribution benchmark on the GPU (fast/cached paths, float32 and bfloat16),
#   3. scale.py on the whole LLaMA-2-7B-width stack (32 layers, bf16, ~13.5 GB of weights).
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

echo "== 1/3 device tests (-rs lists skips: a cuda skip here is a failure of this check)"
python -m pytest -q -p no:cacheprovider -rs tests/test_device.py 2>&1 | tee "$OUT/test_device.txt"
if grep -q "SKIPPED.*no CUDA device" "$OUT/test_device.txt"; then
  echo "gpu_check.sh: the cuda tests skipped although a GPU is present" >&2
  exit 1
fi

echo "== 2/3 attribution benchmark on cuda"
# the embedded model needs its converted copy in ~/.cache/dknbench: add it with MODELS="... embedded"
python benchmarks/attribution.py --device cuda --models ${MODELS:-gpt2-small-shape llama-shape} \
  --dtypes float32 bfloat16 --paths fast cached --json "$OUT/attribution.json" 2>&1 | tee "$OUT/attribution.txt"

echo "== 3/3 scale.py on the 32-layer LLaMA-2-7B-width stack"
python benchmarks/scale.py --device cuda --layers 32 2>&1 | tee "$OUT/scale.txt"
tail -n 1 "$OUT/scale.txt" | grep -qx "peak_within_budget=yes"
echo "gpu_check.sh: all three steps passed; outputs in $OUT/"
