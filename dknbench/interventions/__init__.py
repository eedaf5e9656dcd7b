"""Reversible interventions: MLP neuron activations (forward hooks) and weights, and attention
probabilities (attention.py)."""

from .activations import (enhance_activations, record_activations, set_activations,
                          suppress_activations, target_positions, intervene_activations)
from .attention import attention_maps, scale_attention
from .weights import enhance_weights, preserve_neuron_weights, suppress_weights

__all__ = ["attention_maps", "scale_attention", "enhance_activations", "record_activations", "set_activations", "suppress_activations",
           "target_positions", "intervene_activations", "enhance_weights",
           "preserve_neuron_weights", "suppress_weights"]
