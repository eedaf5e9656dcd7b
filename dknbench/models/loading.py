"""Load a causal or masked LM (Hub id, local path, or an embedded model) with its adapter."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DKNBenchError
from .adapters import ArchitectureAdapter
from .embedded import DEFAULT_MODEL, EMBEDDED_MODELS, ensure_embedded
from .tiny import REFUSED, TINY_FAMILIES, tiny_model

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


@dataclass
class LoadedModel:
    name: str
    model: torch.nn.Module
    tokenizer: object
    adapter: ArchitectureAdapter  # or any NeuronAdapter (models/hooked.py)
    fingerprint: str
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_masked_lm(self) -> bool:
        return self.adapter.is_masked_lm


def model_fingerprint(model: torch.nn.Module) -> str:
    """A cheap content hash: config plus a few values and the sum of every parameter.

    Two checkpoints differing in any weight almost surely differ here; hashing all bytes of a 7B
    model would cost more than it protects.
    """
    digest = hashlib.sha256()
    config = model.config.to_dict()
    config.pop("_name_or_path", None)
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, param in model.named_parameters():
            flat = param.detach().reshape(-1)
            digest.update(name.encode())
            digest.update(str(tuple(param.shape)).encode())
            probe = torch.cat([flat[:8], flat[-8:], flat.double().sum().reshape(1).to(flat.dtype)])
            digest.update(probe.float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


# the tiny test models offered (errors, `dknbench list models`); a refused family (tiny-opt) still
# loads, to show its refusal, but is not offered
TINY_MODELS = tuple(f"tiny-{family}" for family in TINY_FAMILIES if family not in REFUSED)
MODEL_FORMS = (f"a model is a zoo name ({', '.join(EMBEDDED_MODELS)}), a tiny test model "
               f"({', '.join(TINY_MODELS)}), a local folder, or a Hugging Face Hub id with or without "
               "its organisation (gpt2, bert-base-uncased, openai-community/gpt2, EleutherAI/pythia-70m)")

# The Hub moved its oldest models under organisations and redirects the bare names; the papers and
# their reference numbers use the bare names, so results are keyed by them.
HUB_ORG_ALIASES = ("openai-community/", "google-bert/", "distilbert/", "FacebookAI/", "google-t5/")


def canonical_model_name(name: str) -> str:
    """The name results and references use: ``openai-community/gpt2`` -> ``gpt2``; a local
    folder -> its folder name (a site never shows a local path); anything else unchanged."""
    text = str(name).rstrip("/")
    for org in HUB_ORG_ALIASES:
        if text.startswith(org):
            return text[len(org):]
    if text.startswith(("/", "./", "../", "~")) or (os.sep in text and Path(text).exists()):
        return Path(text).name
    return text


def _is_masked_config(config) -> bool:
    archs = getattr(config, "architectures", None) or []
    if any("MaskedLM" in a for a in archs):
        return True
    return getattr(config, "model_type", "") in {"bert", "roberta", "xlm-roberta", "distilbert", "electra"}


def load_model(name: str = DEFAULT_MODEL, device: str = "cpu", dtype: str | None = None,
               trust_remote_code: bool = False, attn_implementation: str | None = "eager") -> LoadedModel:
    """Load ``name``: an embedded model name, a local folder, or a Hugging Face Hub id; an id
    without an organisation (``gpt2``, ``bert-base-uncased``) is resolved by transformers like any
    other (the Hub cache when offline).

    ``attn_implementation="eager"`` keeps attention weights readable (knowledge-synapse task) and
    makes batched and single scoring agree exactly; pass ``"sdpa"`` for speed.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    if name.startswith("tiny-") and name[len("tiny-"):] in TINY_FAMILIES:  # seeded random test models
        if dtype not in (None, "float32", "fp32"):
            raise DKNBenchError(f"tiny model {name!r} is float32 only, got dtype {dtype!r}")
        lm = tiny_loaded(name[len("tiny-"):])
        lm.model.to(device)
        lm.device = torch.device(device)
        return lm
    source = str(ensure_embedded(name)) if name in EMBEDDED_MODELS else name
    torch_dtype = DTYPES.get(dtype or "float32")
    if torch_dtype is None:
        raise DKNBenchError(f"unknown dtype {dtype!r}; allowed: {', '.join(DTYPES)}")
    warn_slow_half_precision(torch_dtype, device)
    local_only = hub_cache_only(name, source)
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code,
                                            local_files_only=local_only)
        auto = AutoModelForMaskedLM if _is_masked_config(config) else AutoModelForCausalLM
        kwargs = {"dtype": torch_dtype, "trust_remote_code": trust_remote_code, "local_files_only": local_only}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        model = auto.from_pretrained(source, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code,
                                                  local_files_only=local_only)
    except (OSError, ValueError) as error:
        offline = " (offline: HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DKNBenchError(f"cannot load model {name!r}{offline}: {first}; {MODEL_FORMS}") from None
    return wrap_model(name, model, tokenizer, device=device)


# CPU flags with native half-precision matrix products; without them torch emulates them
NATIVE_HALF = {torch.bfloat16: ("avx512_bf16", "amx_bf16"), torch.float16: ("avx512_fp16", "amx_fp16")}


def cpu_flags() -> set[str] | None:
    """This CPU's feature flags (Linux /proc/cpuinfo), None where they cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    line = next((l for l in text.splitlines() if l.startswith(("flags", "Features"))), None)
    return set(line.split(":", 1)[1].split()) if line else None


def warn_slow_half_precision(torch_dtype, device: str) -> None:
    """One line on stderr when bf16/fp16 runs on an x86 CPU without native support for it: there
    torch emulates the products, and IG on the embedded model measured 26x slower than float32
    (benchmarks/README.md), the opposite of what the opt-in is for."""
    flags = cpu_flags()
    if str(device) != "cpu" or torch_dtype not in NATIVE_HALF or flags is None or "avx2" not in flags:
        return  # a GPU, float32, an unreadable or non-x86 CPU: nothing known to warn about
    if not flags & set(NATIVE_HALF[torch_dtype]):
        name = str(torch_dtype).removeprefix("torch.")
        print(f"dknbench: warning: --dtype {name} on this CPU (no {' or '.join(NATIVE_HALF[torch_dtype])}) is "
              "emulated and runs far slower than float32 (IG measured 26x slower); use float32 here, or a GPU",
              file=sys.stderr)


def hub_cache_only(name: str, source: str | None = None) -> bool:
    """For a Hub id while HF_HUB_OFFLINE is unset, check once that the Hub answers (dknbench.hub).
    If it does not, read the local cache only (True), or fail in one line when the model is not
    there, instead of huggingface_hub's ~40 s of retries. False for every other kind of name."""
    from ..hub import hub_access, unreachable_text

    source = source or name
    if name in EMBEDDED_MODELS or name.startswith("tiny-") or Path(source).expanduser().exists():
        return False
    access = hub_access(source)
    if access == "unreachable":
        raise DKNBenchError(f"{unreachable_text(f'model {name!r}', cache_checked=True)}; {MODEL_FORMS}")
    return access == "cache"


def wrap_model(name: str, model: torch.nn.Module, tokenizer, device: str = "cpu") -> LoadedModel:
    """Prepare an already-built model (e.g. a tiny random one in tests) for the suite."""
    adapter = ArchitectureAdapter(model)  # fails early on an unsupported family
    model.to(device)
    model.eval()
    model.requires_grad_(False)  # attributions need activation gradients only
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, adapter=adapter,
                       fingerprint=model_fingerprint(model), device=torch.device(device))


def tiny_loaded(family: str, **kwargs) -> LoadedModel:
    """A LoadedModel around tiny.tiny_model(...): a seeded random model of ``family``."""
    model, tokenizer = tiny_model(family, **kwargs)
    return wrap_model(f"tiny-{family}", model, tokenizer)
