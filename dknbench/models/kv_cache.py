"""The key/value-cache keyword of the installed transformers.

transformers 5.x renamed ``past_key_values`` to ``cache`` (argument and output field) and warns
on every use of the old name. The fast paths pass and read caches, so they ask here which name
this version uses instead of filtering the warning away.
"""

from __future__ import annotations

import dataclasses

from transformers.modeling_outputs import CausalLMOutputWithPast

CACHE_ARG = ("cache" if "cache" in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)}
             else "past_key_values")


def with_cache(cache) -> dict:
    """Keyword arguments that pass ``cache`` to a model forward and ask for it back."""
    return {CACHE_ARG: cache, "use_cache": True}


def returned_cache(output):
    """The cache a forward with ``use_cache=True`` returned."""
    return getattr(output, CACHE_ARG)
