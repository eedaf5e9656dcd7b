"""Input normalisation shared by the stats functions."""

from __future__ import annotations

import numpy as np


def as_sample(values, name: str = "values") -> np.ndarray:
    """A 1-D float array. NaN values are kept (they propagate, as scipy's default
    ``nan_policy='propagate'`` does) so that a missing measurement is never silently dropped."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array
