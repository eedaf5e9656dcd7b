"""The DKN-method contract: registry, result dataclass, input validation, functional filter.

Every DKN method (000 §3, SPEC §3) turns a KN set and its neuron-distance matrix into a family of
disjoint *base degenerate components* D = {B_1 .. B_s}. The methods differ only in how they propose
candidate components; the functional filter (000 Eq. 10/17) is shared, so it lives here and
:meth:`DKNMethod.fit` applies it to every method when a scorer is given (SPEC §3 choice: "the same
functional filter applies to every method").

The classes follow scikit-learn conventions: hyper-parameters are stored unchanged by ``__init__``
and validated in ``fit``; results are attributes with a trailing underscore.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Protocol, Sequence

import numpy as np

from ..errors import DKNBenchError
from ..hyperparams import Param, check_params, get_params
from ..registry import Registry

Neuron = tuple[int, int]

FILTER_MODES = ("relative", "absolute")
# Which neurons are off while one candidate B is "activated" (000 Eq. 2/10): every other KN of the
# fact (kns), or only the other candidate components (candidates; KNs in no candidate stay on, as
# in the GCR experiment). tasks/gcr.yaml argues the default from the paper's text.
FILTER_SCOPES = ("candidates", "kns")
DEFAULT_FILTER_SCOPE = "candidates"


class Scorer(Protocol):
    """What the functional filter and amig-pairs need from the model (see dknbench.scoring)."""

    base_prob: float

    def prob_suppressing(self, neurons: list[Neuron]) -> float: ...


@dataclass
class DKN:
    """The degenerate knowledge neurons found for one fact by one method.

    ``bdcs`` are the kept base degenerate components (disjoint, non-empty, each a sorted neuron
    list); ``persistence`` is aligned with ``bdcs`` for methods that have one (NTC), else None;
    ``candidates`` are the components before the functional filter; ``kns`` is the KN set;
    ``functional_scores`` is the filter value of each candidate and ``tau2`` the threshold they
    were held against (both None when no filter ran).
    """

    method: str
    bdcs: list[list[Neuron]]
    persistence: Optional[list[float]]
    candidates: list[list[Neuron]]
    kns: list[Neuron]
    extra: dict = field(default_factory=dict)
    functional_scores: Optional[list[float]] = None
    tau2: Optional[float] = None

    @property
    def neurons(self) -> list[Neuron]:
        """All neurons of D (the union of its BDCs), sorted."""
        return sorted(n for b in self.bdcs for n in b)

    @property
    def is_degenerate(self) -> bool:
        """True when at least two BDCs survive: one component alone is not a degeneracy."""
        return len(self.bdcs) >= 2

    def to_dict(self) -> dict:
        """JSON-ready form; neurons are written as ``[layer, index]`` (ARCHITECTURE.md)."""

        def enc(group):
            return [[int(layer), int(index)] for layer, index in group]

        return {
            "method": self.method,
            "bdcs": [enc(b) for b in self.bdcs],
            "persistence": None if self.persistence is None else [float(p) for p in self.persistence],
            "candidates": [enc(b) for b in self.candidates],
            "kns": enc(self.kns),
            "extra": self.extra,
            "functional_scores": None if self.functional_scores is None else [float(s) for s in self.functional_scores],
            "tau2": self.tau2,
        }


# ----------------------------------------------------------------------------- validation


def validate_kns(kns: Iterable) -> list[Neuron]:
    """Return the KNs as a list of ``(int, int)`` tuples in the given order; reject bad entries.

    The order is kept (not sorted) because row i of the distance matrix belongs to ``kns[i]``.
    """
    if kns is None:
        raise DKNBenchError("kns must be a list of (layer, index) neurons, got None")
    out: list[Neuron] = []
    for item in kns:
        try:
            layer, index = item
        except (TypeError, ValueError):
            raise DKNBenchError(f"a neuron must be a (layer, index) pair, got {item!r}") from None
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (layer, index)):
            raise DKNBenchError(f"a neuron must be a pair of ints, got {item!r}")
        if layer < 0 or index < 0:
            raise DKNBenchError(f"neuron layer and index must be >= 0, got {item!r}")
        out.append((int(layer), int(index)))
    if len(set(out)) != len(out):
        dupes = sorted({n for n in out if out.count(n) > 1})
        raise DKNBenchError(f"kns contains duplicate neurons: {dupes}")
    return out


def validate_distance(distance: Any, n: int) -> np.ndarray:
    """Check the neuron-distance matrix: n x n, no NaN, >= 0 (inf allowed), symmetric, zero diagonal."""
    try:
        d = np.array(distance, dtype=np.float64)
    except (TypeError, ValueError):
        raise DKNBenchError("distance must be a numeric n x n matrix") from None
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise DKNBenchError(f"distance must be a square matrix, got shape {d.shape}")
    if d.shape[0] != n:
        raise DKNBenchError(f"distance is {d.shape[0]} x {d.shape[1]} but there are {n} KNs")
    if np.isnan(d).any():
        raise DKNBenchError("distance contains NaN; use inf for unreachable neuron pairs")
    if (d < 0).any():
        raise DKNBenchError(f"distance must be nonnegative, found minimum {d.min():g}")
    if n and np.any(np.diag(d) != 0):
        raise DKNBenchError("distance must have a zero diagonal (d(A, A) = 0)")
    inf = np.isinf(d)
    if not np.array_equal(inf, inf.T) or not np.allclose(
        np.where(inf, 0.0, d), np.where(inf, 0.0, d).T, rtol=1e-9, atol=1e-12
    ):
        raise DKNBenchError("distance must be symmetric (d(A, B) = d(B, A))")
    return d


def validate_scorer(scorer: Any) -> None:
    if not hasattr(scorer, "prob_suppressing") or not callable(scorer.prob_suppressing):
        raise DKNBenchError("scorer must have a prob_suppressing(neurons) -> float method")
    base = getattr(scorer, "base_prob", None)
    if not isinstance(base, (int, float, np.floating)) or not math.isfinite(base) or base < 0:
        raise DKNBenchError(f"scorer.base_prob must be a finite probability >= 0, got {base!r}")


def check_choice(name: str, value: Any, allowed: Sequence) -> None:
    if value not in allowed:
        raise DKNBenchError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def check_number(name: str, value: Any, low: float = 0.0, high: float = math.inf, allow_none=False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DKNBenchError(f"{name} must be a number, got {value!r}")
    if not (low <= value <= high) or math.isnan(value):
        raise DKNBenchError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")


def check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DKNBenchError(f"{name} must be an integer >= {low}, got {value!r}")


def finite_distance(d: np.ndarray, inf_scale: float = 2.0) -> np.ndarray:
    """Replace inf (unreachable / same-layer pairs) by ``inf_scale x`` the largest finite distance.

    Clustering needs finite numbers. A surrogate strictly above every finite distance keeps the
    order of all finite distances (so single-linkage merges among reachable neurons are unchanged)
    and makes separate components merge last. With no finite off-diagonal distance the surrogate is
    1.0 (all pairs are then equally far apart).
    """
    d = d.copy()
    off = ~np.eye(len(d), dtype=bool)
    finite = d[off & np.isfinite(d)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 0.0
    d[np.isinf(d)] = top * inf_scale if top > 0 else 1.0
    return d


# ----------------------------------------------------------------------------- functional filter


def suppressing_many(scorer: Scorer, neuron_sets) -> list[float]:
    """Prob with each neuron set suppressed; batched when the scorer offers it."""
    many = getattr(scorer, "prob_suppressing_many", None)
    if callable(many):
        return [float(p) for p in many([list(s) for s in neuron_sets])]
    return [float(scorer.prob_suppressing(list(s))) for s in neuron_sets]


def only_active_prob(component: Sequence[Neuron], kns: Sequence[Neuron], scorer: Scorer) -> float:
    """Prob(only ``component`` active among the KNs): suppress every other KN."""
    keep = set(component)
    return float(scorer.prob_suppressing([n for n in kns if n not in keep]))


def suppressed_for(candidate: Sequence[Neuron], candidates: Sequence[Sequence[Neuron]],
                   kns: Sequence[Neuron], scope: str = DEFAULT_FILTER_SCOPE) -> list[Neuron]:
    """The neurons switched off while ``candidate`` alone is activated, under ``scope``:
    ``kns``: every other KN of the fact; ``candidates``: the neurons of the other candidates."""
    check_choice("filter_scope", scope, FILTER_SCOPES)
    keep = set(candidate)
    if scope == "kns":
        return [n for n in kns if n not in keep]
    return [n for other in candidates for n in other if n not in keep]


def functional_scores(
    candidates: Sequence[Sequence[Neuron]], kns: Sequence[Neuron], scorer: Scorer, mode: str = "relative",
    scope: str = DEFAULT_FILTER_SCOPE,
) -> list[float]:
    """The value compared with tau2 for each candidate (000 Eq. 10/17).

    relative (SPEC choice): Prob(only B active) / Prob(all KNs active), i.e. Eq. 2 "Prob(D) ~
    Prob(B_i)" as a ratio; absolute (option): Prob(only B active), the paper's literal Eq. 10.
    "Only B active" means the neurons of :func:`suppressed_for` (``scope``) are suppressed.
    """
    check_choice("filter_mode", mode, FILTER_MODES)
    check_choice("filter_scope", scope, FILTER_SCOPES)
    validate_scorer(scorer)
    base = float(scorer.base_prob)
    if mode == "relative" and base <= 0:
        raise DKNBenchError(
            "the relative functional filter needs scorer.base_prob > 0 (the model gives the gold "
            "answer probability 0); skip this fact or use filter_mode='absolute'"
        )
    probs = suppressing_many(scorer, [suppressed_for(b, candidates, kns, scope) for b in candidates])
    return [p / base for p in probs] if mode == "relative" else probs


def functional_filter(
    candidates: Sequence[Sequence[Neuron]],
    kns: Sequence[Neuron],
    scorer: Scorer,
    tau2: float = 0.3,
    mode: str = "relative",
    scope: str = DEFAULT_FILTER_SCOPE,
) -> list[list[Neuron]]:
    """Keep each candidate B whose functional score (see :func:`functional_scores`) is >= tau2."""
    check_number("tau2", tau2)
    scores = functional_scores(candidates, kns, scorer, mode, scope)
    return [list(b) for b, s in zip(candidates, scores) if passes_filter(s, tau2)]


def passes_filter(score: float, tau2: float) -> bool:
    """Eq. 10: Prob(B) >= tau2 (inclusive)."""
    return score >= tau2


# ----------------------------------------------------------------------------- base class


class DKNMethod:
    """Base class of DKN methods: ``fit(distance, kns, scorer=None, attribution=None) -> self``.

    Subclasses implement :meth:`_find_candidates` (and may override :meth:`_select`). Results:

    - ``candidates_``: disjoint candidate components before the functional filter, best first;
    - ``functional_scores_``: the filter value per candidate (None when no filter ran);
    - ``bdcs_``: the kept components, D = {B_1 .. B_s} (disjoint, non-empty, sorted neurons);
    - ``persistence_``: floats aligned with ``bdcs_`` (NTC) or None;
    - ``dkn_``: a :class:`DKN` bundling the above.

    Every method takes ``tau2``, ``filter_mode`` and ``filter_scope``; ``tau2=None`` switches the
    filter off.
    """

    name: str = ""
    requires_distance: bool = True
    requires_scorer: bool = False
    # the allowed values, declared once (dknbench/hyperparams.py): checked by fit, by the task
    # YAML / --set validation before a run, and shown by `dknbench list methods --verbose`
    hyperparameters = {
        "tau2": Param(low=0.0, none=True, help="functional filter threshold; null: no filter"),
        "filter_mode": Param(choices=FILTER_MODES), "filter_scope": Param(choices=FILTER_SCOPES),
        "min_size": Param(low=2, integer=True), "inf_scale": Param(low=1.0, low_open=True),
    }

    # -- scikit-learn style parameter access
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict:
        return get_params(self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self, where: Mapping[str, str] | None = None) -> None:
        """The stored parameters against ``hyperparameters``; subclasses add what a range cannot
        say. ``where``: parameter -> the option it came from, for the message."""
        check_params(self, error=DKNBenchError, where=where)

    # -- the template
    def fit(
        self,
        distance: Any,
        kns: Iterable,
        scorer: Optional[Scorer] = None,
        attribution: Optional[Mapping[Neuron, float]] = None,
    ) -> "DKNMethod":
        self._validate_params()
        kns = validate_kns(kns)
        if distance is None:
            if self.requires_distance:
                raise DKNBenchError(f"DKN method {self.name!r} needs a neuron distance matrix")
            d = None
        else:
            d = validate_distance(distance, len(kns))
        if scorer is None and self.requires_scorer:
            raise DKNBenchError(f"DKN method {self.name!r} needs a scorer (it suppresses neurons)")
        if scorer is not None:
            validate_scorer(scorer)

        candidates, scores = self._find_candidates(d, kns, scorer, attribution)
        candidates = [sorted(b) for b in candidates]
        self._check_family(candidates, kns)

        if scorer is not None and self.tau2 is not None:
            fscores = functional_scores(candidates, kns, scorer, self.filter_mode, self.filter_scope)
            keep = [passes_filter(s, self.tau2) for s in fscores]
        else:
            fscores, keep = None, [True] * len(candidates)
        bdcs, persistence = self._select(candidates, scores, keep)

        self.candidates_ = candidates
        self.functional_scores_ = fscores
        self.bdcs_ = bdcs
        self.persistence_ = persistence
        self.dkn_ = DKN(self.name, bdcs, persistence, candidates, kns, self._extra(), fscores,
                        None if fscores is None else float(self.tau2))
        return self

    def _find_candidates(self, distance, kns, scorer, attribution):
        """Return (candidate components as neuron lists, per-candidate score list or None)."""
        raise NotImplementedError

    def _select(self, candidates, scores, keep):
        """Default: keep the candidates that passed the filter, in order."""
        bdcs = [b for b, k in zip(candidates, keep) if k]
        pers = None if scores is None else [float(s) for s, k in zip(scores, keep) if k]
        return bdcs, pers

    def _extra(self) -> dict:
        """Method-specific JSON-ready details stored in ``DKN.extra``."""
        return {}

    @staticmethod
    def _check_family(candidates, kns) -> None:
        # An internal invariant, not user input: a bug here must not pass silently.
        members = [n for b in candidates for n in b]
        if len(set(members)) != len(members) or not set(members) <= set(kns) or any(not b for b in candidates):
            raise AssertionError("DKN candidates must be disjoint non-empty subsets of the KN set")


# every module of dknbench.dkn is imported on the first lookup (dknbench/registry.py)
DKN_METHODS = Registry("DKN method", base=DKNMethod, package=__package__, name_attribute="name")


def get_dkn_method(name: str, **params) -> DKNMethod:
    """Instantiate a registered DKN method; unknown parameters give a one-line DKNBenchError."""
    cls = DKN_METHODS.get(name)
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise DKNBenchError(
            f"DKN method {name!r} has no parameter(s) {', '.join(unknown)}; "
            f"available: {', '.join(cls._param_names())}"
        )
    return cls(**params)
