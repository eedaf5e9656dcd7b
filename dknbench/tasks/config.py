"""Task YAML: schema, validation with file:line errors, option overrides.

Options take their type from the default in the YAML, so ``--set steps=50`` becomes an int and
``--set localizer=ig`` a string; an unknown option or an unparsable value is one clear error.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..hyperparams import coerce  # noqa: F401  (typed --set values; tasks import it from here too)
from ..io import compose_yaml, load_yaml
from ..paths import SAFE_NAME, SAFE_NAME_TEXT
from ..results.schema import METRIC_DIRECTIONS  # noqa: F401  (the one home; tests import it from here)

# field -> (allowed python types, required)
SCHEMA: dict[str, tuple[tuple[type, ...], bool]] = {
    "include": ((str,), False),
    "task": ((str,), True),
    "class": ((str,), True),
    "description": ((str,), True),
    "paper": ((str,), False),
    "method_kind": ((str,), True),
    "default_method": ((str,), False),
    "dataset": ((str,), False),
    "options": ((dict,), False),
    "presets": ((dict,), False),
    "default_preset": ((str,), False),
    "metrics": ((list, dict), False),
    "references": ((list,), False),
    "notes": ((str,), False),
    "figures": ((dict,), False),
}
METHOD_KINDS = ("localizer", "dkn")
REFERENCE_FIELDS = {"source", "model", "method", "metric", "group", "value", "note"}

# Allowed values of the options a *task* reads, by name: (low, high, sentinels). Checked on the
# resolved options (YAML default, preset, --set) before a run writes anything, so a typo such as
# steps=0 is one error line instead of a crash after run.json exists. A method's own parameters
# (tau1, tau2, filter_mode, amig_norm, atp's direction, ...) are not listed here: their classes
# declare them (``hyperparameters``), and harness.spec.resolve checks them by building the run's
# methods (tasks/methods.py). tau and steps are task options too (the IG engine, the tasks' KN
# rules read them), so they stay here as well as on the Localizer.
_SHARE = (0.0, 1.0, ())
OPTION_RANGES: dict[str, tuple[float | None, float | None, tuple]] = {
    "steps": (1, None, ()), "max_kns": (1, None, ()), "max_subsets": (1, None, ()),
    "max_queries": (1, None, (0,)), "edit_queries": (1, None, (0,)),  # 0: all of the fact's queries
    "heatmap_bins": (1, None, ()),
    "train_batch_size": (1, None, ()), "grad_accum": (1, None, ()), "ppl_max_tokens": (1, None, ()),
    "epochs": (0, None, ()), "incremental_epochs": (0, None, ()), "n_locality": (0, None, ()),
    "ppl_rows": (0, None, ()), "wikitext_min_words": (0, None, ()),
    "outlier_limit": (0, None, ()), "weight_decay": (0, None, ()), "clip": (0, None, ()),
    "lambda1": (0, None, ()), "lambda2": (0, None, ()), "lr": (0, None, ()), "t": (0, 100, ()),
    "tau": _SHARE, "refine_p": _SHARE, "known_min_prob": _SHARE,
    "cas_beta1": _SHARE, "cas_beta2": _SHARE, "cas_threshold": _SHARE, "static_threshold": _SHARE,
    "figure_threshold": _SHARE, "ratio": _SHARE, "holdout": _SHARE, "warmup": _SHARE, "alpha": _SHARE,
    "dropout": (0.0, 1.0, (-1,)),  # -1: the model's own dropout rates
}
# Options of OPTION_RANGES that count things: an integer, never 2.5 (the others may be floats).
INTEGER_OPTIONS = frozenset({
    "steps", "max_kns", "max_subsets", "max_queries", "edit_queries", "heatmap_bins", "train_batch_size",
    "grad_accum", "ppl_max_tokens", "epochs", "incremental_epochs", "n_locality", "ppl_rows",
    "wikitext_min_words"})
# Options with a fixed set of string values (the task YAMLs' comments document them).
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "engine": ("auto", "fast", "cached", "full"), "read": ("gate", "up", "both"),
    "positions": ("target", "all"), "prob_mode": ("first", "joint"), "split": ("static", "otsu"),
    "intervention": ("values", "weights", "both"),
}


def check_option(key: str, value: Any, where: str) -> None:
    """Refuse a value outside OPTION_RANGES / OPTION_CHOICES (ConfigError naming what is allowed)."""
    if key in OPTION_CHOICES and value not in OPTION_CHOICES[key]:
        raise ConfigError(f"{where}: {value!r} is not allowed; choose one of {', '.join(OPTION_CHOICES[key])}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not allowed; give a finite number")
    if key not in OPTION_RANGES:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            key in INTEGER_OPTIONS and not isinstance(value, int)):
        # a task YAML (or preset) that sets steps: "two" or steps: 2.5 would crash inside the task
        kind = "an integer" if key in INTEGER_OPTIONS else "a number"
        raise ConfigError(f"{where}: {value!r} is not {kind}")
    low, high, sentinels = OPTION_RANGES[key]
    if value in sentinels or ((low is None or value >= low) and (high is None or value <= high)):
        return
    allowed = (f"[{low}, {high}]" if high is not None else f">= {low}") + \
        "".join(f" or {s}" for s in sentinels)
    raise ConfigError(f"{where}: {value!r} is out of range; allowed: {allowed}")


@dataclass
class TaskConfig:
    task: str
    cls: str
    description: str
    method_kind: str
    path: Path
    paper: str = ""
    default_method: str = ""
    dataset: str = "builtin"
    options: dict = field(default_factory=dict)
    presets: dict = field(default_factory=dict)
    default_preset: str = ""
    metrics: list = field(default_factory=list)               # metric names, in the tables' order
    metric_directions: dict = field(default_factory=dict)     # name -> one of METRIC_DIRECTIONS
    references: list = field(default_factory=list)
    notes: str = ""
    figures: dict = field(default_factory=dict)  # file name (``{method}``: one per method) -> what it shows

    def resolve_options(self, preset: str | None = None, overrides: list[str] | None = None) -> dict:
        """Defaults, then the preset, then ``key=value`` overrides (typed like the default)."""
        options = dict(self.options)
        preset = preset or self.default_preset
        if preset:
            if preset not in self.presets:
                raise ConfigError(f"{self.path.name}: unknown preset {preset!r}; available: "
                                  f"{', '.join(sorted(self.presets)) or '(none)'}")
            options.update(self.presets[preset])
        for item in overrides or []:
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"--set {item!r}: expected key=value")
            if key in options:
                default = options[key]
            else:  # a registered method's parameter (dknbench/hyperparams.py: how it reaches it)
                from .methods import settable_options

                settable = settable_options()
                if key not in settable:
                    raise ConfigError(f"--set {key}: unknown option of task {self.task!r} and no registered "
                                      f"method's parameter; options: {', '.join(sorted(options))}; method "
                                      "parameters: dknbench list methods --verbose")
                default = settable[key]
            options[key] = coerce(raw.strip(), default, f"--set {key}")
        given = {item.partition("=")[0].strip() for item in overrides or []}
        namespaced = [key for key in options if "." in str(key)]
        if namespaced:  # METHOD.PARAM in a task YAML: a typo would otherwise be silently unused
            from .methods import settable_options

            settable = settable_options()
            for key in namespaced:
                if key not in settable:
                    raise ConfigError(f"{self.path.name}: option {key}: no registered method has this "
                                      "parameter (METHOD.PARAM; see dknbench list methods --verbose)")
        for key, value in options.items():
            where = f"--set {key}" if key in given else (
                f"{self.path.name}: preset {preset!r} option {key}" if key in self.presets.get(preset, {})
                else f"{self.path.name}: option {key}")
            check_option(key, value, where)
        return options


def _line_of(node: yaml.Node, key: str) -> int:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return k.start_mark.line + 1
    return 1


MERGED_FIELDS = ("options", "presets")  # an included base's mappings are merged key by key


MAX_TASK_FILE_BYTES = 2**20  # task files are a few KB; /dev/zero or a huge file is refused unread


def read_task_text(path: Path) -> str:
    """The text of a task file: a regular file (a FIFO would block, /dev/zero never ends) of at
    most MAX_TASK_FILE_BYTES."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        raise ConfigError(f"{path}: not a regular file; a task file must be a .yaml file")
    if info.st_size > MAX_TASK_FILE_BYTES:
        raise ConfigError(f"{path}: {info.st_size:,} bytes; a task file may have at most "
                          f"{MAX_TASK_FILE_BYTES:,}")
    return path.read_text(encoding="utf-8")


def _read_yaml(path: Path) -> tuple[yaml.Node, dict]:
    try:
        text = read_task_text(path)
        node = compose_yaml(text)
        data = load_yaml(text)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path}:{line}: invalid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a task file must be a mapping of fields")
    return node, data


def _with_includes(path: Path, node, data: dict, seen: tuple[Path, ...] = ()) -> dict:
    """``data`` on top of the YAML it ``include:``s (a path relative to its folder), recursively.
    The including file wins; ``options`` and ``presets`` are merged key by key."""
    if "include" not in data:
        return data
    base_path = (path.parent / str(data["include"])).resolve()
    if base_path in seen + (path.resolve(),):
        raise ConfigError(f"{path}:{_line_of(node, 'include')}: include cycle through {base_path.name}")
    if not base_path.is_file():
        raise ConfigError(f"{path}:{_line_of(node, 'include')}: included file {data['include']!r} "
                          f"not found next to {path.name}")
    base_node, base = _read_yaml(base_path)
    base = _with_includes(base_path, base_node, base, seen + (path.resolve(),))
    merged = {k: v for k, v in base.items() if k != "include"}
    for key, value in data.items():
        if key in MERGED_FIELDS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key != "include":
            merged[key] = value
    return merged


def load_task_config(path: str | Path) -> TaskConfig:
    path = Path(path)
    node, data = _read_yaml(path)
    if "include" in data and not isinstance(data["include"], str):
        raise ConfigError(f"{path}:{_line_of(node, 'include')}: field 'include' must be a str "
                          "(a YAML file path relative to this file)")
    data = _with_includes(path, node, data)
    for key in data:
        if key not in SCHEMA:
            raise ConfigError(f"{path}:{_line_of(node, key)}: unknown field {key!r}; allowed: "
                              f"{', '.join(sorted(SCHEMA))}")
    for key, (types, required) in SCHEMA.items():
        if key not in data:
            if required:
                raise ConfigError(f"{path}:1: missing required field {key!r}")
            continue
        if not isinstance(data[key], types):
            raise ConfigError(f"{path}:{_line_of(node, key)}: field {key!r} must be a "
                              f"{' or '.join(t.__name__ for t in types)}, got {type(data[key]).__name__}")
    if not SAFE_NAME.match(data["task"]):  # the name is a folder of runs/ and a file of the site
        raise ConfigError(f"{path}:{_line_of(node, 'task')}: task name {data['task']!r} is not allowed; "
                          f"it becomes part of a file path, so it must be {SAFE_NAME_TEXT}")
    if data["method_kind"] not in METHOD_KINDS:
        raise ConfigError(f"{path}:{_line_of(node, 'method_kind')}: method_kind must be one of "
                          f"{', '.join(METHOD_KINDS)}, got {data['method_kind']!r}")
    options = data.get("options") or {}
    for name, preset in (data.get("presets") or {}).items():
        if not isinstance(preset, dict):
            raise ConfigError(f"{path}:{_line_of(node, 'presets')}: preset {name!r} must be a mapping")
        for key, value in preset.items():
            if key not in options:
                raise ConfigError(f"{path}:{_line_of(node, 'presets')}: preset {name!r} sets unknown "
                                  f"option {key!r}; options: {', '.join(sorted(options))}")
    for i, ref in enumerate(data.get("references") or []):
        if not isinstance(ref, dict) or "value" not in ref or "metric" not in ref:
            raise ConfigError(f"{path}:{_line_of(node, 'references')}: references[{i}] needs at least "
                              "'metric' and 'value'")
        unknown = set(ref) - REFERENCE_FIELDS
        if unknown:
            raise ConfigError(f"{path}:{_line_of(node, 'references')}: references[{i}] has unknown "
                              f"field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(REFERENCE_FIELDS))}")
    metrics = data.get("metrics") or []
    directions = metrics if isinstance(metrics, dict) else {}
    for name in metrics:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}:{_line_of(node, 'metrics')}: metric name {name!r} must be a "
                              "non-empty string (a list of names, or a mapping name: direction)")
    for name, direction in directions.items():
        if direction not in METRIC_DIRECTIONS:
            raise ConfigError(f"{path}:{_line_of(node, 'metrics')}: metric {name!r} has direction "
                              f"{direction!r}; allowed: {', '.join(METRIC_DIRECTIONS)}")
    for name, what in (data.get("figures") or {}).items():
        if not (isinstance(name, str) and name.endswith(".png") and "/" not in name and isinstance(what, str)):
            raise ConfigError(f"{path}:{_line_of(node, 'figures')}: figures: {name!r}: {what!r} must be "
                              "<file name>.png: <what it shows> (a name in the run folder; {method} for one per method)")
    if data.get("default_preset") and data["default_preset"] not in (data.get("presets") or {}):
        raise ConfigError(f"{path}:{_line_of(node, 'default_preset')}: default_preset "
                          f"{data['default_preset']!r} is not among presets")
    return TaskConfig(
        task=data["task"], cls=data["class"], description=data["description"],
        method_kind=data["method_kind"], path=path, paper=data.get("paper", ""),
        default_method=data.get("default_method", ""), dataset=data.get("dataset", "builtin"),
        options=options, presets=data.get("presets") or {},
        default_preset=data.get("default_preset", ""), metrics=[str(m) for m in metrics],
        metric_directions={str(k): v for k, v in directions.items()},
        references=data.get("references") or [], notes=data.get("notes", ""),
        figures=dict(data.get("figures") or {}),
    )
