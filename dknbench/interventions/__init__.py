"""Reversible interventions on MLP neurons: activations (forward hooks) and weights."""

from .activations import (enhance_activations, record_activations, set_activations,
                          suppress_activations, target_positions, intervene_activations)
from .weights import enhance_weights, preserve_neuron_weights, suppress_weights

__all__ = ["enhance_activations", "record_activations", "set_activations", "suppress_activations",
           "target_positions", "intervene_activations", "enhance_weights",
           "preserve_neuron_weights", "suppress_weights"]
