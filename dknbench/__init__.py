"""dknbench: a declarative benchmark for (degenerate) knowledge neurons in language models.

The package folders follow the pipeline, each importing only the ones before it
(docs/ARCHITECTURE.md): data -> models -> interventions -> scoring -> localization -> dkn ->
stats/metrics -> results -> tasks -> harness -> leaderboard -> reproduce -> cli.
"""

import os
import sys

__version__ = "0.1.0"

# OpenMP threads that wait at a barrier sleep at once instead of spinning: on a box shared with
# other jobs a spinning thread burns the CPU its descheduled sibling needs (measured in
# benchmarks/threads.py: 3-4x the CPU-seconds per attribution, and slower, at load ~15 on 2 cores).
# The OpenMP runtime reads this once, when torch loads it, so it only applies when dknbench is
# imported before torch (the CLI always is); a value the user set is kept.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
