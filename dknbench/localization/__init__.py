"""Knowledge-neuron localization: IG engine, localizers (registry), cache, KN selection."""

from .base import LOCALIZERS, Localizer, refine_across_queries, select_above
from .cache import AttributionCache
from .engine import IGEngine
from .locate import FactKNs, KNLocator, build_localizer
from . import atp, captum_ig, cas, causal_tracing, grad_x_act, gradient, random_baseline  # noqa: F401  (register the localizers)

__all__ = ["LOCALIZERS", "Localizer", "refine_across_queries", "select_above", "AttributionCache",
           "IGEngine", "FactKNs", "KNLocator", "build_localizer"]
