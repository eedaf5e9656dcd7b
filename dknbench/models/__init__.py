"""Models: loading (Hub id, local path, embedded GGUF) and per-family neuron adapters."""

from .adapters import ArchitectureAdapter, ParamSlice, supported_model_types
from .embedded import DEFAULT_MODEL, EMBEDDED_MODELS, ensure_embedded
from .loading import LoadedModel, load_model, model_fingerprint, wrap_model

__all__ = ["ArchitectureAdapter", "ParamSlice", "supported_model_types", "DEFAULT_MODEL",
           "EMBEDDED_MODELS", "ensure_embedded", "LoadedModel", "load_model", "model_fingerprint",
           "wrap_model"]
