"""Load time of the cached embedded model, in fresh processes (the import cost is part of a run).

    python benchmarks/model_load.py [--runs 5] [--device cpu] [--dtype bfloat16]

Each run is a new Python process that times (1) importing dknbench's model loader (torch comes
with it), (2) importing the transformers classes ``load_model`` uses (transformers imports its
model modules lazily, on first use: a one-off cost per process), (3) ``load_model()``: config,
weights, tokenizer, fingerprint, (4) a second ``load_model()`` in the same process. Prints every run and the medians. Needs the model already fetched (``dknbench download``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from dknbench.models import load_model
t1 = time.perf_counter()
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
t2 = time.perf_counter()
lm = load_model(device={device!r}, dtype={dtype!r})
t3 = time.perf_counter()
load_model(device={device!r}, dtype={dtype!r})
t4 = time.perf_counter()
print(json.dumps({{"import_dknbench_s": t1 - t0, "import_transformers_s": t2 - t1,
                  "load_s": t3 - t2, "second_load_s": t4 - t3}}))
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None)
    args = parser.parse_args(argv)
    code = CHILD.format(root=str(ROOT), device=args.device, dtype=args.dtype)
    runs = []
    for i in range(args.runs):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"run {i + 1}: " + "  ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()), flush=True)
    print("median: " + "  ".join(f"{k} {statistics.median(r[k] for r in runs):.2f}" for k in runs[0]))


if __name__ == "__main__":
    main()
