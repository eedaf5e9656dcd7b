"""Knowledge-neuron localization: IG engine, localizers (registry), cache, KN selection.

A localizer is a module of this package with an ``@LOCALIZERS.register("name")`` class: the
registry imports the package's modules the first time it is asked for one (dknbench/registry.py).
"""

from .base import LOCALIZERS, Localizer, refine_across_queries, select_above
from .cache import AttributionCache
from .engine import IGEngine
from .locate import FactKNs, KNLocator, build_localizer

__all__ = ["LOCALIZERS", "Localizer", "refine_across_queries", "select_above", "AttributionCache",
           "IGEngine", "FactKNs", "KNLocator", "build_localizer"]
