"""What a run is: its RunSpec, checked and resolved before any model is loaded.

``resolve`` turns a spec into a ``ResolvedRun``: the task's config and class, the methods, the
options after presets and ``--set``, the dataset, the config hash and the output folder. Everything
a user can get wrong that does not need the model is refused here, with one line. A run resolves
once (per process: a Ray actor resolves its own copy) and passes the ResolvedRun down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import check_output_name
from ..paths import check_name, slug
from .provenance import config_hash


@dataclass
class RunSpec:
    task: str
    methods: list[str] = field(default_factory=list)  # empty: the task's default method
    model: str = "smollm2-135m"
    dataset: str | None = None
    limit: int | None = None
    seed: int = 42
    output: str | None = None
    overrides: list[str] = field(default_factory=list)
    preset: str | None = None
    include_paths: list[str] = field(default_factory=list)
    device: str = "cpu"
    dtype: str | None = None
    batch_size: int = 128
    max_memory: int | str | None = None  # bytes, "auto" or None (no limit); results do not depend on it
    cache_dir: str | None = None
    no_cache: bool = False
    executor: str = "local"
    ray_address: str | None = None
    quiet: bool = False


@dataclass(frozen=True)
class ResolvedRun:
    """A RunSpec after ``resolve``: what the harness, the task and the summary read. ``hashed`` is
    run.json's ``resolved`` (exactly what the config hash covers: its keys and their order are part
    of every committed run folder's hash, so they never change); ``config_hash`` is its hash."""

    spec: RunSpec
    config: Any  # tasks.config.TaskConfig
    task_class: type  # the registered Task subclass
    methods: list[str]
    options: dict  # the task's options after the preset and --set
    dataset: str  # the fact-set spec
    output: Path  # the run folder
    hashed: dict
    config_hash: str

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def kind(self) -> str:
        """What the methods are: ``localizer`` or ``dkn``."""
        return self.config.method_kind

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def limit(self) -> int | None:
        return self.spec.limit


LOCALIZER_OPTIONS = ("localizer", "random_match")
MAX_SEED = 2**32


def method_registry(kind: str):
    from ..tasks.methods import registry

    return registry(kind)


RUNS_ROOT = Path("runs")


def _localizer_options(config, overrides) -> list[tuple[str, str]]:
    """(value, option) of every option naming a localizer in the YAML, its presets and --set: a
    user's file.py:Class among them is loaded before --set is checked against the parameters."""
    given = {key.strip(): value for key, _, value in (item.partition("=") for item in overrides)}
    sources = [config.options, *config.presets.values(), given]
    return [(source[key].strip(), key) for source in sources for key in LOCALIZER_OPTIONS
            if isinstance(source.get(key), str) and ":" in source[key]]


def resolve(spec: RunSpec) -> ResolvedRun:
    """Validate everything that can be validated before loading a model."""
    from ..tasks import get_task, task_class

    config = get_task(spec.task, spec.include_paths)
    cls = task_class(config)
    methods = spec.methods or ([config.default_method] if config.default_method else [])
    if not methods:
        raise ConfigError(f"{config.path.name}: task {config.task!r} needs --method")
    from ..tasks.methods import resolve_method, run_methods

    # each method as its canonical label: a variant's parameters checked, a user's file.py:Class
    # loaded (before the options, so --set reaches its parameters) and named by its registry name
    what = f"{config.method_kind} method (task {config.task!r} benchmarks {config.method_kind} methods)"
    methods = [resolve_method(config.method_kind, m, config.path, what) for m in methods]
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise ConfigError(f"--method lists {', '.join(repeated)} more than once; give each method once")
    for value, key in _localizer_options(config, spec.overrides):
        resolve_method("localizer", value, config.path, f"localizer in option {key}", key)
    options = config.resolve_options(spec.preset, spec.overrides)
    for key in LOCALIZER_OPTIONS:  # options that name a localizer: checked like --method
        if key in options:
            options[key] = resolve_method("localizer", options[key], config.path, f"localizer in --set {key}", key)
    # build every method the run will build from these options: a value outside what its class
    # declares (atp direction=sideways, tau2=-1) is refused here, naming the option

    given = {item.partition("=")[0].strip() for item in spec.overrides}
    run_methods(config.method_kind, methods, options, spec.seed,
                lambda key: f"--set {key}" if key in given else (
                    "--seed" if key == "--seed" else f"{config.path.name}: option {key}"))
    if spec.limit is not None and spec.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {spec.limit}")
    if not spec.model.strip():
        raise ConfigError("--model is empty; give an embedded model name, a local folder or a Hub id")
    if spec.output is not None and not str(spec.output).strip():  # '' would mean the default folder
        raise ConfigError("--output is empty; give a folder, or leave --output out for runs/<task>/...")
    if spec.cache_dir is not None and (not str(spec.cache_dir).strip() or (
            Path(spec.cache_dir).exists() and not Path(spec.cache_dir).is_dir())):
        raise ConfigError(f"--cache-dir {spec.cache_dir!r}: must name a folder (new or existing), "
                          "not a file or ''")
    if not 0 <= spec.seed < MAX_SEED:  # numpy takes 32-bit seeds; a huge one overflows in torch
        raise ConfigError(f"--seed must be in [0, {MAX_SEED - 1}], got {spec.seed}")
    if spec.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {spec.batch_size}")
    from ..models.device import check_device

    check_device(spec.device)
    dataset = spec.dataset or config.dataset
    resolved = {"task": config.task, "methods": methods, "model": spec.model, "dataset": dataset,
                "limit": spec.limit, "seed": spec.seed, "options": options, "dtype": spec.dtype}
    digest = config_hash(resolved)
    if spec.output is not None:
        check_output_name(str(spec.output))
        output = Path(spec.output)
    else:
        output = RUNS_ROOT / check_name("task", config.task, str(config.path)) / slug(spec.model) / (
            f"{slug('+'.join(methods))}-seed{spec.seed}-{digest[:8]}")
        if not output.resolve().is_relative_to(RUNS_ROOT.resolve()):  # a name is never a path
            raise ConfigError(f"the run folder {output} would lie outside {RUNS_ROOT}/; give --output")
    return ResolvedRun(spec=spec, config=config, task_class=cls, methods=methods, options=options,
                       dataset=dataset, output=output, hashed=resolved, config_hash=digest)
