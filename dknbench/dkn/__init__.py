"""Neuron distance graph and degenerate-knowledge-neuron methods (000 §2-3, 002 §2.3; SPEC §3).

A DKN method is a module of this package with an ``@DKN_METHODS.register("name")`` class: the
registry imports the package's modules the first time it is asked for one (dknbench/registry.py);
the imports below are the package's public names, not the registration. Use
``get_dkn_method(name, **params).fit(distance, kns, scorer)``.
"""

from .base import (
    DKN,
    DKN_METHODS,
    DKNMethod,
    Neuron,
    functional_filter,
    functional_scores,
    get_dkn_method,
    validate_distance,
    validate_kns,
)
from .distance import adjacent_weight_matrix, floyd_warshall, neuron_distance_matrix
from .ntc import NTC, NTCCluster, single_linkage
from .clustering import DBSCANDKN, HierarchicalDKN, KMeansDKN, classical_mds
from .amig_pairs import AMIGPairs

__all__ = [
    "DKN",
    "DKN_METHODS",
    "DKNMethod",
    "Neuron",
    "functional_filter",
    "functional_scores",
    "get_dkn_method",
    "validate_distance",
    "validate_kns",
    "adjacent_weight_matrix",
    "floyd_warshall",
    "neuron_distance_matrix",
    "NTC",
    "NTCCluster",
    "single_linkage",
    "KMeansDKN",
    "DBSCANDKN",
    "HierarchicalDKN",
    "classical_mds",
    "AMIGPairs",
]
