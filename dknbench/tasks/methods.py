"""A run's methods built from its options: localizers and DKN methods take the options that match
their constructor's parameters (the rule, and how two methods share a name: dknbench/hyperparams.py).

No method is named here: what a method takes, its defaults and its allowed values come from its
class, so a new localizer or DKN method is configurable from a task YAML and ``--set`` by being
registered.

A method is named by its registered name, by a **variant** ``NAME[PARAM=VALUE,...]`` (e.g.
``atp[direction=corrupt]``: atp with those constructor parameters, above every task option; the
label is the method's name in rows, summaries and the leaderboard, so ``--method atp,atp[direction=
corrupt]`` runs both directions side by side), or by a **reference** to user code,
``file.py:Class`` beside the task YAML or ``package.module:Class`` (tasks/user_code.py), which is
replaced by the name the class registers itself under (``@LOCALIZERS.register("mine")``; its class
name when it does not). ``resolve_method`` turns what a user wrote into the canonical label.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from ..errors import ConfigError, DKNBenchError, UnknownNameError, closest
from ..hyperparams import coerce, constructor_defaults, get_params, kwargs_from_options, option_keys
from .user_code import is_reference, load_class

KINDS = ("localizer", "dkn")
LOCALIZER_OPTION = "localizer"  # the task option naming the localizer a DKN task runs


def registry(kind: str):
    if kind == "localizer":
        from ..localization import LOCALIZERS

        return LOCALIZERS
    from ..dkn import DKN_METHODS

    return DKN_METHODS


VARIANT_FORM = "NAME or NAME[PARAM=VALUE,...] (e.g. atp[direction=corrupt])"
_VARIANT = re.compile(r"^(?P<name>[^\[\]=,]+?)\s*(?:\[(?P<options>[^\[\]]*)\])?$")


@dataclass(frozen=True)
class MethodRef:
    """A method as a run names it: a registered name (or a user-code reference) and the
    constructor parameters its variant sets, as (param, raw text) pairs in name order."""

    name: str
    options: tuple = ()

    @property
    def label(self) -> str:
        """``atp`` or ``atp[direction=corrupt]``: the method's name in rows and summaries."""
        return self.name + (f"[{','.join(f'{k}={v}' for k, v in self.options)}]" if self.options else "")


def parse_method(text, where: str = "--method") -> MethodRef:
    """``NAME`` or ``NAME[PARAM=VALUE,...]`` -> MethodRef (ConfigError when malformed)."""
    found = _VARIANT.match(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ConfigError(f"{where} {text!r}: expected {VARIANT_FORM}")
    options: dict[str, str] = {}
    if found["options"] is not None:
        for item in found["options"].split(","):
            key, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not key or not value:
                raise ConfigError(f"{where} {text!r}: {item.strip()!r} is not PARAM=VALUE; expected {VARIANT_FORM}")
            if key in options:
                raise ConfigError(f"{where} {text!r}: parameter {key!r} is given twice")
            options[key] = value
    return MethodRef(found["name"].strip(), tuple(sorted(options.items())))


def split_methods(text: str) -> list[str]:
    """``ig,atp,atp[direction=corrupt,noise=3]`` -> the methods (commas inside [] belong to a variant)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth <= 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return parts + [current.strip()]


def variant_params(cls, ref: MethodRef, where: str = "--method") -> dict:
    """The constructor parameters ``ref``'s variant sets, typed like their defaults; a name that
    is not a parameter of ``cls`` is a ConfigError naming the allowed ones."""
    accepted = constructor_defaults(cls)
    out = {}
    for key, raw in ref.options:
        if key not in accepted:
            close = closest(key, accepted)
            raise ConfigError(f"{where} {ref.label!r}: {ref.name} has no parameter {key!r}"
                              f"{f' (did you mean {close!r}?)' if close else ''}; its parameters: "
                              f"{', '.join(accepted)}")
        default = accepted[key]
        out[key] = coerce(raw, None if default is inspect.Parameter.empty else default,
                          f"{where} {ref.label!r}: {key}")
    return out


def resolve_method(kind: str, text, yaml_path: Path, what: str | None = None, where: str = "--method") -> str:
    """The canonical label of a method a run names (module doc): a reference is loaded and
    replaced by its registered name, the name must be registered (UnknownNameError(``what``)
    suggesting the closest), and a variant's parameters must be the class's."""
    ref = parse_method(text, where)
    members = registry(kind)
    name = ref.name
    if is_reference(name) or name.endswith(".py"):  # "mine.py" alone: say what a reference is
        name = register_user_method(kind, load_class(yaml_path, name, members.base, field=where.lstrip("-")))
    elif name not in members:
        raise UnknownNameError(what or f"{kind} method", name, members.names())
    ref = MethodRef(name, ref.options)
    variant_params(members.get(name), ref, where)
    return ref.label


def register_user_method(kind: str, cls) -> str:
    """The name a user's class is registered under: its own decorator's, else its class name."""
    members = registry(kind)
    for entry in members.entries():
        if entry.target is cls:
            return entry.name
    members.add(cls.__name__, cls, (cls.__doc__ or "").strip().split("\n")[0])
    return cls.__name__


def is_known(kind: str, text) -> bool:
    """Whether ``text`` names a registered method or a well-formed variant of one."""
    try:
        ref = parse_method(text)
        variant_params(registry(kind).get(ref.name), ref)
    except DKNBenchError:
        return False
    return True


def build_method(kind: str, name: str, options: Mapping, seed: int | None = None,
                 label: Callable[[str], str] | None = None, **overrides):
    """Method ``name`` (a registered name or a variant label) of registry ``kind`` with the options
    it takes, then its variant's parameters (``overrides``: parameters set by the caller, above
    both), checked against its class's declaration: a value outside it is a ConfigError naming
    the option (``label(key)``) or the variant it came from."""
    ref = parse_method(name)
    cls = registry(kind).get(ref.name)
    kwargs, sources = kwargs_from_options(cls, ref.name, options, {} if seed is None else {"seed": seed})
    variant = variant_params(cls, ref)
    kwargs.update(variant)
    accepted = constructor_defaults(cls)
    kwargs.update({k: v for k, v in overrides.items() if k in accepted})
    label = label or (lambda key: f"option {key}")
    where = {param: label(key) for param, key in sources.items()}
    where.update({param: f"{ref.label} parameter {param}" for param in variant})
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
