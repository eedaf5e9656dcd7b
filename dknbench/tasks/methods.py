"""A run's methods built from its options: localizers and DKN methods take the options that match
their constructor's parameters (the rule, and how two methods share a name: dknbench/hyperparams.py).

No method is named here: what a method takes, its defaults and its allowed values come from its
class, so a new localizer or DKN method is configurable from a task YAML and ``--set`` by being
registered.
"""

from __future__ import annotations

import inspect
from typing import Callable, Mapping

from ..errors import ConfigError, DKNBenchError
from ..hyperparams import constructor_defaults, get_params, kwargs_from_options, option_keys

KINDS = ("localizer", "dkn")
LOCALIZER_OPTION = "localizer"  # the task option naming the localizer a DKN task runs


def registry(kind: str):
    if kind == "localizer":
        from ..localization import LOCALIZERS

        return LOCALIZERS
    from ..dkn import DKN_METHODS

    return DKN_METHODS


def build_method(kind: str, name: str, options: Mapping, seed: int | None = None,
                 label: Callable[[str], str] | None = None, **overrides):
    """Method ``name`` of registry ``kind`` with the options it takes (``overrides``: parameters
    set by the caller, above every option), checked against its class's declaration: a value
    outside it is a ConfigError naming the option (``label(key)``) it came from."""
    cls = registry(kind).get(name)
    kwargs, sources = kwargs_from_options(cls, name, options, {} if seed is None else {"seed": seed})
    accepted = constructor_defaults(cls)
    kwargs.update({k: v for k, v in overrides.items() if k in accepted})
    label = label or (lambda key: f"option {key}")
    where = {param: label(key) for param, key in sources.items()}
    method = cls(**kwargs)
    try:
        if kind == "localizer":
            method.check_params(where)
        else:
            method._validate_params(where)
    except ConfigError:
        raise
    except DKNBenchError as error:
        raise ConfigError(str(error)) from None
    return method


def run_methods(kind: str, methods: list[str], options: Mapping, seed: int | None = None,
                label: Callable[[str], str] | None = None) -> dict[str, tuple[str, object]]:
    """name -> (kind, built method) for every method the run builds: the ``--method`` list, the
    localizer a DKN task names (option ``localizer``), and the localizer a localizer matches (a
    ``match`` parameter: random's reference). Building them checks every option that reaches one."""
    todo = [(kind, m) for m in methods]
    if kind == "dkn" and isinstance(options.get(LOCALIZER_OPTION), str):
        todo.append(("localizer", options[LOCALIZER_OPTION]))
    built: dict[str, tuple[str, object]] = {}
    while todo:
        k, name = todo.pop(0)
        if name in built:
            continue
        method = build_method(k, name, options, seed, label)
        built[name] = (k, method)
        match = getattr(method, "match", None) if k == "localizer" else None
        if isinstance(match, str) and match not in built:
            todo.append(("localizer", match))
    return built


def method_params(kind: str, methods: list[str], options: Mapping, seed: int | None = None) -> dict:
    """name -> every hyper-parameter of each method the run builds (recorded in summary.json's
    config, shown by the leaderboard): which convention ran (atp's direction, ...) is on record
    even when the task's options leave it at the default."""
    return {name: {"kind": k, **_plain(get_params(method))}
            for name, (k, method) in run_methods(kind, methods, options, seed).items()}


def _plain(params: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, type(None), list)) else str(v)) for k, v in params.items()}


def settable_options() -> dict[str, object]:
    """Every option key that reaches a registered method's parameter -> the default that types a
    ``--set`` value (None, i.e. a YAML value, when the methods sharing a key disagree on its type
    or have no default)."""
    defaults: dict[str, list] = {}
    for kind in KINDS:
        for entry in registry(kind).entries():
            cls = entry.target
            params = constructor_defaults(cls)
            for key, param in option_keys(cls, entry.name).items():
                default = params[param]
                defaults.setdefault(key, []).append(None if default is inspect.Parameter.empty else default)
    out = {}
    for key, values in defaults.items():
        types = {type(v) for v in values}
        out[key] = values[0] if len(types) == 1 else None
    return out
