"""``--device`` checked before anything is written: a CUDA device on a torch without CUDA (or an
index past the visible GPUs) is a one-line user error, not an AssertionError from deep in torch."""

from __future__ import annotations

from ..errors import ConfigError


def check_device(device: str) -> str:
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"--device {device!r}: not a torch device ({error}); use cpu, cuda or cuda:N") from None
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device!r}: this torch {torch.__version__} has no usable MPS device; "
                          "use --device cpu")
    if parsed.type not in ("cpu", "cuda", "mps"):  # meta, xla, hpu...: no model runs there
        raise ConfigError(f"--device {device!r}: device type {parsed.type!r} is not supported; "
                          "use cpu, cuda, cuda:N (or mps on a Mac)")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device!r}: this torch {torch.__version__} has no usable CUDA "
                              "(no GPU or a CPU-only build); use --device cpu")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(f"--device {device!r}: only {count} CUDA device(s) visible (cuda:0..cuda:{count - 1})")
    return device
