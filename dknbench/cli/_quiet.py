"""No library progress bar in a log: outside a terminal, a bar is a stream of ``\\r`` frames.

dknbench's own progress is one plain line per fact there (harness/progress.py); the libraries'
bars (transformers' weight loading, datasets' map/load, huggingface_hub's downloads) are switched
off through their own switches. transformers' GGUF conversion bar ignores them and is handled
where the conversion runs (models/embedded.py).
"""

from __future__ import annotations

import os
import sys


# library -> (its switch, the environment variable it reads at import)
SWITCHES = {
    "datasets": ("disable_progress_bars", "HF_DATASETS_DISABLE_PROGRESS_BARS"),
    "huggingface_hub.utils": ("disable_progress_bars", "HF_HUB_DISABLE_PROGRESS_BARS"),
}


def quiet_library_bars(stream=None) -> bool:
    """Switch the libraries' bars off unless ``stream`` (stderr) is a terminal; True when it did.
    A library not imported yet gets its environment variable (cheaper than importing it, and Ray
    workers inherit it); a user's own setting of that variable wins."""
    import importlib

    stream = stream or sys.stderr
    if stream.isatty():
        return False
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    for module, (switch, variable) in SWITCHES.items():
        if module in sys.modules:
            getattr(importlib.import_module(module), switch)()
        else:
            os.environ.setdefault(variable, "1")
    return True
