"""A method's hyper-parameters: its constructor's signature, the ranges its class declares, and
how a run's options reach it.

Every localizer and DKN method is an estimator in scikit-learn's sense: its hyper-parameters are the
parameters of its ``__init__`` (their defaults are the method's defaults), the constructor stores
them unchanged, and the allowed values are declared once, on the class, in ``hyperparameters``
(a name -> :class:`Param` mapping, merged along the class's bases). The same declaration checks a
task YAML / ``--set`` value before a run starts and the stored value when the method runs, and
``dknbench list methods --verbose`` prints it.

How a run's options reach method ``m`` (``kwargs_from_options``), for each constructor parameter p:

1. the option ``m.p`` (e.g. ``--set causal-tracing.positions=all``): for method m only;
2. else the plain option named p, or the name the class gives it in ``option_names`` (AMIG's
   ``norm`` is the task option ``amig_norm``): **shared** by every method of the run that has a
   parameter of that name, and by the task when the task reads an option of that name too
   (``--set seed=3`` reaches every method with a ``seed``; ``--set positions=all`` moves both the
   task's interventions and causal-tracing's restorations to every position);
3. else a run-level value (``seed``: the run's ``--seed``);
4. else the constructor's default.
So two methods of one run that share a parameter name get the same plain value; give one of them
its own with ``m.p``.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .io import load_yaml

NAMESPACE = "."  # "<method>.<param>"


@dataclass(frozen=True)
class Param:
    """The allowed values of one hyper-parameter: a set of choices, or a number in a range."""

    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is not allowed: (low, high]
    integer: bool = False
    none: bool = False  # None is allowed (e.g. "no filter", "chosen from the data")
    help: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (None when it is)."""
        if value is None:
            return None if self.none else f"{value!r} is not allowed; {self.describe()}"
        if self.choices:
            return None if value in self.choices else f"{value!r} is not allowed; {self.describe()}"
        if self.low is None and self.high is None and not self.integer:
            return None
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not number or (self.integer and not isinstance(value, numbers.Integral)) or not math.isfinite(value):
            return f"{value!r} is not {'an integer' if self.integer else 'a finite number'}; {self.describe()}"
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return f"{value!r} is out of range; {self.describe()}"
        if self.high is not None and value > self.high:
            return f"{value!r} is out of range; {self.describe()}"
        return None

    def describe(self) -> str:
        if self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        else:
            kind = "an integer" if self.integer else "a number"
            if self.low is not None and self.high is not None:
                text = f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
            elif self.low is not None:
                text = f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text = f"{kind} <= {self.high:g}"
            elif self.integer:
                text = kind
            else:
                return "any value"  # checked by the class itself (e.g. a localizer's name)
        return text + (" or null" if self.none else "")


SHARE = Param(low=0.0, high=1.0)  # a fraction / probability threshold


def constructor_defaults(cls) -> dict[str, Any]:
    """Constructor parameter -> default (``inspect.Parameter.empty`` when required)."""
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[name] = p.default
    return out


def declared(cls) -> dict[str, Param]:
    """The ``hyperparameters`` declared on ``cls`` and its bases (the subclass wins)."""
    out: dict[str, Param] = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("hyperparameters", {}))
    return {k: v for k, v in out.items() if k in constructor_defaults(cls)}


def get_params(obj) -> dict[str, Any]:
    """The stored value of every constructor parameter (scikit-learn's ``get_params``)."""
    return {name: getattr(obj, name) for name in constructor_defaults(type(obj))}


def store_params(obj, values: Mapping[str, Any]) -> None:
    """Store every constructor parameter of ``obj``'s class unchanged, from ``values`` (that
    constructor's ``locals()``), as scikit-learn constructors do: a new hyper-parameter then
    needs only its place in the signature."""
    for name in constructor_defaults(type(obj)):
        setattr(obj, name, values[name])


def check_params(obj, error=ConfigError, where: Mapping[str, str] | None = None) -> None:
    """Check ``obj``'s stored hyper-parameters against its class's declaration; ``where`` names the
    option each came from (for the message), else the parameter is named."""
    for name, param in declared(type(obj)).items():
        problem = param.problem(getattr(obj, name))
        if problem:
            label = (where or {}).get(name) or f"{getattr(obj, 'name', type(obj).__name__)} parameter {name}"
            raise error(f"{label}: {problem}")


def option_name(cls, param: str) -> str:
    """The plain task option a parameter is read from (its own name unless the class renames it)."""
    return getattr(cls, "option_names", {}).get(param, param)


def option_keys(cls, method: str) -> dict[str, str]:
    """Every option key that reaches one of ``cls``'s parameters -> that parameter."""
    out = {}
    for param in constructor_defaults(cls):
        out[option_name(cls, param)] = param
        out[f"{method}{NAMESPACE}{param}"] = param
    return out


def kwargs_from_options(cls, method: str, options: Mapping, run_values: Mapping | None = None
                        ) -> tuple[dict, dict]:
    """(constructor kwargs, param -> the option key it came from) by the rule in the module doc."""
    kwargs, sources = {}, {}
    for param in constructor_defaults(cls):
        for key in (f"{method}{NAMESPACE}{param}", option_name(cls, param)):
            if key in options:
                kwargs[param], sources[param] = options[key], key
                break
        else:
            if param in (run_values or {}):
                kwargs[param], sources[param] = run_values[param], f"--{param}"
    return kwargs, sources


def coerce(raw: str, default: Any, where: str) -> Any:
    """Parse ``raw`` as the type of ``default`` (YAML scalars for None/lists)."""
    try:
        if isinstance(default, bool):
            lowered = raw.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, str):
            return raw
        value = load_yaml(raw)
        if isinstance(default, list) and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if default is not None and not isinstance(value, type(default)):
            raise ValueError
        return value
    except (ValueError, yaml.YAMLError):
        kind = type(default).__name__ if default is not None else "a YAML value"
        raise ConfigError(f"{where}: {raw!r} is not a valid {kind}") from None


def describe_params(cls) -> list[str]:
    """One line per hyper-parameter: ``name = default  (allowed values)``."""
    specs = declared(cls)
    lines = []
    for name, default in constructor_defaults(cls).items():
        shown = "(required)" if default is inspect.Parameter.empty else repr(default)
        key = option_name(cls, name)
        extra = [specs[name].describe()] if name in specs and specs[name].describe() != "any value" else []
        if specs.get(name) and specs[name].help:
            extra.append(specs[name].help)
        if key != name:
            extra.append(f"task option {key}")
        lines.append(f"{name} = {shown}" + (f"  ({'; '.join(extra)})" if extra else ""))
    return lines
