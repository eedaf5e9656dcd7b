"""DKN methods: NTC against independent H0 oracles, the baselines, the functional filter, amig-pairs."""

import itertools

import gudhi
import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist, squareform

from conftest import DISTANCE_METHODS
from dknbench.dkn import (
    DKN,
    DKN_METHODS,
    NTC,
    AMIGPairs,
    DKNMethod,
    functional_filter,
    functional_scores,
    get_dkn_method,
)
from dknbench.dkn.clustering import _ClusteringBaseline
from dknbench.errors import DKNBenchError, UnknownNameError
from dknbench.hyperparams import constructor_defaults

INF = np.inf


class FakeScorer:
    """Prob as a function of the set of *active* KNs; suppression removes neurons from it."""

    def __init__(self, kns, prob_of_active, attribution=None):
        self.kns, self.prob_of_active = list(kns), prob_of_active
        self.base_prob = prob_of_active(frozenset(self.kns))
        self.calls = []
        if attribution is not None:
            self.attribution = attribution

    def prob_suppressing(self, neurons):
        self.calls.append(sorted(neurons))
        return self.prob_of_active(frozenset(self.kns) - set(neurons))


def kn_list(n, layers=4):
    """A sorted KN set spread over ``layers`` layers (positions = rows of the test matrices)."""
    return sorted((i % layers, i) for i in range(n))


def random_metric(seed, n=12):
    rng = np.random.default_rng(seed)
    return squareform(pdist(rng.normal(size=(n, 3))))


def two_groups(n_a=4, n_b=3, tight=1.0, far=50.0, seed=0):
    """Two tight groups (within-group distances in [tight, 2 tight]) far apart."""
    rng = np.random.default_rng(seed)
    n = n_a + n_b
    d = np.full((n, n), far) + rng.uniform(0, 1, (n, n))
    for g in (range(n_a), range(n_a, n)):
        for i, j in itertools.combinations(g, 2):
            d[i, j] = tight * (1 + rng.uniform())
    d = np.triu(d, 1)
    return d + d.T


def assert_valid_family(family, kns, min_size=1):
    members = [n for b in family for n in b]
    assert len(members) == len(set(members)), "components overlap"
    assert set(members) <= set(kns), "a neuron outside the KN set"
    assert all(len(b) >= min_size for b in family)
    assert all(b == sorted(b) for b in family)


# ----------------------------------------------------------------------------- NTC vs oracles


@pytest.mark.parametrize("seed", range(5))
def test_ntc_h0_deaths_equal_scipy_single_linkage_heights(seed):
    d = random_metric(seed, n=10 + seed)
    ntc = NTC().fit(d, kn_list(len(d)))
    heights = np.sort(linkage(squareform(d), method="single")[:, 2])
    np.testing.assert_allclose(ntc.death_radii_, heights, rtol=1e-12)
    np.testing.assert_allclose(np.sort(ntc.merge_tree_[:, 2]), heights, rtol=1e-12)
    assert ntc.merge_tree_[-1, 3] == len(d)


@pytest.mark.parametrize("seed", range(3))
def test_ntc_h0_deaths_equal_scipy_on_non_euclidean_matrix(seed):
    rng = np.random.default_rng(100 + seed)
    d = np.triu(rng.uniform(0.1, 5.0, (9, 9)), 1)
    d = d + d.T
    ntc = NTC().fit(d, kn_list(9))
    np.testing.assert_allclose(ntc.death_radii_, np.sort(linkage(squareform(d), "single")[:, 2]))


@pytest.mark.parametrize("seed", range(4))
def test_ntc_h0_barcode_equals_gudhi(seed):
    d = random_metric(seed, n=9)
    ntc = NTC().fit(d, kn_list(9))
    st = gudhi.RipsComplex(distance_matrix=d).create_simplex_tree(max_dimension=1)
    bars = [iv for dim, iv in st.persistence() if dim == 0]
    gudhi_finite = np.sort([death for _, death in bars if np.isfinite(death)])
    ours_finite = np.sort([death for _, death in ntc.barcode_ if np.isfinite(death)])
    np.testing.assert_allclose(ours_finite, gudhi_finite, rtol=1e-6)
    assert sum(np.isinf(death) for _, death in ntc.barcode_) == sum(np.isinf(death) for _, death in bars) == 1
    assert all(birth == 0 for birth, _ in ntc.barcode_) and len(ntc.barcode_) == 9


def test_ntc_barcode_has_one_infinite_bar_per_component():
    d = two_groups()
    d[:4, 4:] = d[4:, :4] = INF
    d[6, :] = d[:, 6] = INF
    d[6, 6] = 0
    ntc = NTC().fit(d, kn_list(7))
    n_comp = connected_components(np.isfinite(d) & (d > 0))[0]
    assert n_comp == 3
    assert sum(np.isinf(death) for _, death in ntc.barcode_) == n_comp
    assert len(ntc.death_radii_) == 7 - n_comp


# ----------------------------------------------------------------------------- NTC clusters


def test_ntc_recovers_two_well_separated_groups():
    kns = kn_list(7)
    ntc = NTC().fit(two_groups(), kns)
    assert sorted(ntc.bdcs_) == [kns[:4], kns[4:]]
    assert ntc.candidates_ == ntc.bdcs_  # no scorer: no filter
    assert len(ntc.persistence_) == 2 and all(p > 40 for p in ntc.persistence_)
    assert ntc.persistence_ == sorted(ntc.persistence_, reverse=True)
    assert isinstance(ntc.dkn_, DKN) and ntc.dkn_.method == "ntc" and ntc.dkn_.is_degenerate


def test_ntc_figure2_example_by_hand():
    # 000 Fig. 2: d_ab = 1, d_bc = 2, d_bd = 10 (path distances elsewhere).
    a, b, c, dd = 0, 1, 2, 3
    edges = {(a, b): 1.0, (b, c): 2.0, (b, dd): 10.0}
    g = np.full((4, 4), INF)
    np.fill_diagonal(g, 0)
    for (i, j), v in edges.items():
        g[i, j] = g[j, i] = v
    for m in range(4):
        g = np.minimum(g, g[:, m, None] + g[None, m, :])
    kns = [(0, 0), (1, 0), (2, 0), (2, 1)]
    ntc = NTC().fit(g, kns)
    got = {tuple(c.members): (c.birth, c.death, c.persistence) for c in ntc.clusters_}
    assert got == {((0, 0), (1, 0)): (1.0, 2.0, 1.0), ((0, 0), (1, 0), (2, 0)): (2.0, 10.0, 8.0),
                   tuple(kns): (10.0, INF, INF)}  # the root never merges: an essential class
    assert ntc.threshold_ == 4.0
    assert ntc.bdcs_ == [[(0, 0), (1, 0), (2, 0)]] and ntc.persistence_ == [8.0]
    # tau1 = 0.1: both clusters qualify, but they are nested -> only the most persistent is kept
    assert NTC(tau1=0.1).fit(g, kns).bdcs_ == [[(0, 0), (1, 0), (2, 0)]]


def test_ntc_disconnected_groups_are_essential_classes():
    d = two_groups()
    d[:4, 4:] = d[4:, :4] = INF  # e.g. the groups share no adjacent layers
    kns = kn_list(7)
    finite_max = d[np.isfinite(d)].max()
    # the surrogate still orders the merge tree ...
    assert NTC().fit(d, kns).merge_tree_[-1, 2] == pytest.approx(2.0 * finite_max)
    # ... but each group never merges at a finite R: excluded by default, candidates when included
    default = NTC().fit(d, kns)
    tops = [c for c in default.clusters_ if sorted(c.members) in (kns[:4], kns[4:])]
    assert len(tops) == 2 and all(c.death == INF for c in tops)
    assert all(set(b) < set(kns[:4]) or set(b) < set(kns[4:]) for b in default.bdcs_)
    assert default.funnel_["essential_excluded"] == 2
    included = NTC(essential="include").fit(d, kns)
    assert sorted(included.bdcs_) == [kns[:4], kns[4:]]
    assert included.persistence_ == [INF, INF]


def pairs_in_two_unreachable_groups():
    """Issue 26's case: 8 KNs in two groups with no finite path between them; in each group two
    tight pairs (d = 1) that join late (d = 9)."""
    d = np.full((8, 8), INF)
    np.fill_diagonal(d, 0)
    for base in (0, 4):
        for i, j in itertools.combinations(range(base, base + 4), 2):
            same_pair = (i - base) // 2 == (j - base) // 2
            d[i, j] = d[j, i] = 1.0 if same_pair else 9.0
    return d


@pytest.mark.parametrize("essential, expected", [("exclude", "pairs"), ("include", "groups")])
def test_ntc_candidates_do_not_depend_on_inf_scale(essential, expected):
    d, kns = pairs_in_two_unreachable_groups(), kn_list(8, layers=8)
    want = ([kns[0:2], kns[2:4], kns[4:6], kns[6:8]] if expected == "pairs" else [kns[0:4], kns[4:8]])
    for scale in (1.5, 2.0, 10.0):
        ntc = NTC(essential=essential, inf_scale=scale).fit(d, kns)
        assert sorted(ntc.candidates_) == want, scale
        assert ntc.threshold_ == pytest.approx(0.5 * 8.0)  # max Rp over the finite deaths: 9 - 1


def test_ntc_essential_reading_is_validated():
    with pytest.raises(DKNBenchError, match="essential"):
        NTC(essential="sometimes").fit(two_groups(), kn_list(7))


def test_ntc_min_size_and_small_inputs():
    kns = kn_list(7)
    assert NTC(min_size=4).fit(two_groups(), kns).bdcs_ == [kns[:4]]
    assert NTC().fit(np.zeros((0, 0)), []).bdcs_ == []
    assert NTC().fit([[0.0, 1.0], [1.0, 0.0]], [(0, 0), (1, 0)]).bdcs_ == []  # only the root


def test_ntc_with_scorer_filters_a_non_functional_cluster():
    kns = kn_list(7)
    group_a = set(kns[:4])

    def prob(active):  # only group A can express the fact alone
        return 0.6 if group_a <= active else 0.02

    ntc = NTC(tau2=0.3).fit(two_groups(), kns, FakeScorer(kns, prob))
    assert ntc.bdcs_ == [kns[:4]]
    assert len(ntc.candidates_) == 2 and len(ntc.persistence_) == 1
    assert not ntc.dkn_.is_degenerate
    # tau2=None switches the filter off
    assert len(NTC(tau2=None).fit(two_groups(), kns, FakeScorer(kns, prob)).bdcs_) == 2


# ----------------------------------------------------------------------------- functional filter


def test_functional_filter_relative_and_absolute():
    kns = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    A, B, C = [(0, 0), (0, 1)], [(1, 0), (1, 1)], [(2, 0)]

    def prob(active):
        if set(A) <= active and set(B) <= active:
            return 0.8
        if set(A) <= active:
            return 0.4  # ratio 0.5
        if set(B) <= active:
            return 0.24  # ratio 0.3: exactly tau2, kept (>=)
        return 0.1  # ratio 0.125

    s = FakeScorer(kns, prob)
    assert s.base_prob == 0.8
    assert functional_scores([A, B, C], kns, s) == pytest.approx([0.5, 0.3, 0.125])
    assert functional_filter([A, B, C], kns, s, tau2=0.3) == [A, B]
    assert functional_filter([A, B, C], kns, s, tau2=0.31) == [A]
    assert functional_filter([A, B, C], kns, s, tau2=0.3, mode="absolute") == [A]
    assert functional_filter([A, B, C], kns, s, tau2=0.05, mode="absolute") == [A, B, C]
    # "only B active" = every other KN suppressed
    assert [(1, 0), (1, 1), (2, 0)] in s.calls


def test_functional_filter_errors():
    kns = [(0, 0)]
    with pytest.raises(DKNBenchError, match="base_prob > 0"):
        functional_filter([kns], kns, FakeScorer(kns, lambda a: 0.0))
    with pytest.raises(DKNBenchError, match="filter_mode"):
        functional_filter([kns], kns, FakeScorer(kns, lambda a: 0.5), mode="ratio")
    with pytest.raises(DKNBenchError, match="prob_suppressing"):
        functional_filter([kns], kns, object())


# ----------------------------------------------------------------------------- baselines

# every registered clustering baseline (kmeans, dbscan, hierarchical today)
BASELINES = [name for name in DISTANCE_METHODS if issubclass(DKN_METHODS.get(name), _ClusteringBaseline)]


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_recover_separated_groups(name):
    kns = kn_list(7)
    m = get_dkn_method(name).fit(two_groups(), kns)
    assert sorted(m.bdcs_) == [kns[:4], kns[4:]]
    assert m.persistence_ is None and m.dkn_.method == name


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("seed", range(3))
def test_baselines_return_valid_families_on_messy_matrices(name, seed):
    rng = np.random.default_rng(seed)
    n = 11
    d = random_metric(seed, n)
    mask = np.triu(rng.uniform(size=(n, n)) < 0.3, 1)
    d[mask | mask.T] = INF
    kns = [(int(rng.integers(0, 6)), i) for i in range(n)]
    m = get_dkn_method(name).fit(d, kns)
    assert_valid_family(m.candidates_, kns, min_size=2)
    assert_valid_family(m.bdcs_, kns, min_size=2)
    # with a scorer that rejects everything, nothing survives the shared filter (kns scope: Prob
    # is 0 unless every KN is active)
    m = get_dkn_method(name, filter_scope="kns").fit(d, kns, FakeScorer(kns, lambda a: 1.0 if len(a) == n else 0.0))
    assert m.bdcs_ == [] and m.functional_scores_ == [0.0] * len(m.candidates_)


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_with_two_kns_give_nothing(name):
    assert get_dkn_method(name).fit([[0, 1], [1, 0]], [(0, 0), (1, 0)]).bdcs_ == []


def test_baseline_options():
    kns = kn_list(7)
    d = two_groups()
    assert get_dkn_method("kmeans", n_clusters=2).fit(d, kns).bdcs_ == [kns[:4], kns[4:]]
    assert get_dkn_method("hierarchical", threshold=100.0).fit(d, kns).bdcs_ == [sorted(kns)]
    assert get_dkn_method("dbscan", eps=0.5).fit(d, kns).bdcs_ == []  # nothing within 0.5
    assert get_dkn_method("dbscan").fit(d, kns).eps_ < 3.0


# ----------------------------------------------------------------------------- amig-pairs


def planted_pair_scorer(kns, a, b, c):
    """a or b alone suffices (suppressing one barely matters, both kills Prob); c matters alone."""

    def prob(active):
        p = 0.5 if (a in active or b in active) else 0.04
        p -= 0.01 * (a not in active) + 0.01 * (b not in active)
        return p * (1.0 if c in active else 0.4)

    return FakeScorer(kns, prob)


def test_amig_pairs_finds_the_planted_pair():
    kns = kn_list(8)
    a, b, c = kns[2], kns[5], kns[0]
    s = planted_pair_scorer(kns, a, b, c)
    m = AMIGPairs().fit(None, kns, s)
    assert m.bdcs_ == [[a], [b]]
    assert m.pairs_ == m.all_pairs_ and [p[:2] for p in m.pairs_] == [(a, b)]
    assert c not in m.potential_  # its single drop 0.6 > T_low
    assert m.single_drops_[a] == pytest.approx(0.02)
    assert m.candidates_ == [[a], [b]] and m.persistence_ is None
    # the optional filter (kns scope): only {a} active keeps 0.49 * 0.4 of 0.5 = 0.392 >= 0.3;
    # tau2 = 0.5 rejects the pair
    assert AMIGPairs(tau2=0.5, filter_scope="kns").fit(None, kns, s).bdcs_ == []
    assert AMIGPairs(tau2=0.5, filter_scope="kns").fit(None, kns, s).pairs_ != []
    # default (002 Algorithm 1): no functional filter at all
    assert AMIGPairs().tau2 is None and m.functional_scores_ is None


def test_amig_pairs_top_k_uses_attribution():
    kns = kn_list(8)
    a, b, c = kns[2], kns[5], kns[0]
    attribution = {n: float(10 - i) for i, n in enumerate(kns)}
    attribution[b] = -1.0  # b drops out of the top 4
    m = AMIGPairs(top_k=4).fit(None, kns, planted_pair_scorer(kns, a, b, c), attribution=attribution)
    assert m.bdcs_ == [] and b not in m.single_drops_
    # the same via scorer.attribution, with b ranked first
    attribution[b] = 100.0
    s = planted_pair_scorer(kns, a, b, c)
    s.attribution = attribution
    assert AMIGPairs(top_k=4).fit(None, kns, s).bdcs_ == [[a], [b]]
    with pytest.raises(DKNBenchError, match="no score for KN"):
        AMIGPairs().fit(None, kns, s, attribution={a: 1.0})


def test_amig_pairs_several_pairs_best_first_and_disjoint():
    kns = kn_list(8)
    p1, p2 = (kns[1], kns[3]), (kns[4], kns[6])

    def prob(active):
        p = 1.0
        if not (set(p1) & active):
            p *= 0.5  # drop 0.5
        if not (set(p2) & active):
            p *= 0.1  # drop 0.9: the best pair
        return p

    m = AMIGPairs(tau2=None).fit(None, kns, FakeScorer(kns, prob))
    assert [pr[:2] for pr in m.pairs_] == [p2, p1]
    assert m.bdcs_ == [[p2[0]], [p2[1]]]
    assert m.candidates_ == [[p2[0]], [p2[1]], [p1[0]], [p1[1]]]
    assert_valid_family(m.candidates_, kns)


def test_amig_pairs_overlapping_pairs_are_resolved_greedily():
    kns = kn_list(8)
    x, y, z, w, v = kns[0], kns[2], kns[4], kns[6], kns[7]

    def prob(active):
        p = 1.0
        p *= 0.1 if not ({x, y} & active) else 1.0  # (x, y): drop 0.9
        p *= 0.2 if not ({x, z} & active) else 1.0  # (x, z): drop 0.8, overlaps (x, y)
        p *= 0.5 if not ({w, v} & active) else 1.0  # (w, v): drop 0.5
        return p

    m = AMIGPairs(tau2=None).fit(None, kns, FakeScorer(kns, prob))
    assert [p[:2] for p in m.all_pairs_] == [(x, y), (x, z), (w, v)]
    assert [p[:2] for p in m.pairs_] == [(x, y), (w, v)]
    assert m.all_pairs_[1][2] == pytest.approx(0.8)


def test_amig_pairs_takes_the_best_pair_whose_both_members_pass_the_filter():
    kns = kn_list(8)
    x, y, w, v = kns[0], kns[2], kns[6], kns[7]
    alone = {x: 0.8, y: 0.1, w: 0.6, v: 0.6}  # Prob with only that KN active; y fails tau2

    def prob(active):
        if len(active) == 1:
            return alone.get(next(iter(active)), 0.0)
        p = 0.1 if not ({x, y} & active) else 1.0
        return p * (0.5 if not ({w, v} & active) else 1.0)

    m = AMIGPairs(tau2=0.3, filter_scope="kns").fit(None, kns, FakeScorer(kns, prob))
    assert [p[:2] for p in m.pairs_] == [(x, y), (w, v)]
    assert m.functional_scores_ == pytest.approx([0.8, 0.1, 0.6, 0.6])
    assert m.bdcs_ == [[w], [v]]


def test_fit_keeps_a_component_exactly_at_tau2():
    kns = kn_list(7)
    a_set = set(kns[:4])
    scorer = FakeScorer(kns, lambda act: 1.0 if len(act) == 7 else (0.25 if act == a_set else 0.0))
    assert NTC(tau2=0.25).fit(two_groups(), kns, scorer).bdcs_ == [kns[:4]]
    assert NTC(tau2=0.2500001).fit(two_groups(), kns, scorer).bdcs_ == []


def test_amig_pairs_absolute_drops():
    kns = kn_list(8)
    s = planted_pair_scorer(kns, kns[2], kns[5], kns[0])  # base 0.5, pair drop 0.5 - 0.02 = 0.48
    assert AMIGPairs(drop_mode="absolute", t_high=0.45, tau2=None).fit(None, kns, s).bdcs_ == [[kns[2]], [kns[5]]]
    assert AMIGPairs(drop_mode="absolute", t_high=0.49, tau2=None).fit(None, kns, s).bdcs_ == []


# ----------------------------------------------------------------------------- registry & validation


def test_registry_names_and_base_class():
    assert DKN_METHODS.names()  # the package registers its methods on import
    for name in DKN_METHODS.names():
        cls = DKN_METHODS.get(name)
        assert issubclass(cls, DKNMethod) and cls.name == name
    m = NTC(tau1=0.7, filter_mode="absolute")
    assert m.get_params()["tau1"] == 0.7 and m.tau1 == 0.7 and "NTC(tau1=0.7" in repr(m)
    assert NTC(tau1=-3).tau1 == -3  # stored unchanged; checked in fit


@pytest.mark.parametrize("name", DKN_METHODS.names())
def test_every_constructor_parameter_is_stored_unchanged(name):
    cls = DKN_METHODS.get(name)
    values = {p: object() for p in cls._param_names()}  # one distinct marker per parameter
    m = cls(**values)
    assert m.get_params().keys() == values.keys()
    assert all(getattr(m, p) is v for p, v in values.items())
    assert all(getattr(cls(), p) == d for p, d in constructor_defaults(cls).items())


def test_get_dkn_method_errors():
    with pytest.raises(UnknownNameError, match="unknown DKN method 'nope'"):
        get_dkn_method("nope")
    with pytest.raises(DKNBenchError, match="no parameter"):
        get_dkn_method("ntc", tau3=1)


GOOD = np.array([[0, 1.0, 2.0], [1.0, 0, INF], [2.0, INF, 0]])
KNS3 = [(0, 0), (1, 0), (1, 1)]


@pytest.mark.parametrize(
    "distance, kns, match",
    [
        (np.zeros((3, 2)), KNS3, "square"),
        (np.zeros((2, 2)), KNS3, "2 x 2 but there are 3 KNs"),
        (np.where(GOOD == 1.0, -1.0, GOOD), KNS3, "nonnegative"),
        (np.where(GOOD == 1.0, np.nan, GOOD), KNS3, "NaN"),
        (GOOD + np.eye(3), KNS3, "zero diagonal"),
        (np.array([[0, 1.0, 2.0], [1.5, 0, 1], [2.0, 1, 0]]), KNS3, "symmetric"),
        (np.array([[0, INF, 2.0], [1.0, 0, 1], [2.0, 1, 0]]), KNS3, "symmetric"),
        (GOOD, [(0, 0), (1, 0), (0, 0)], "duplicate"),
        (GOOD, [(0, 0), (1, 0), (1,)], "pair"),
        (GOOD, [(0, 0), (1, 0), (-1, 2)], ">= 0"),
        ("abc", KNS3, "numeric"),
        (None, KNS3, "needs a neuron distance matrix"),
    ],
)
@pytest.mark.parametrize("name", DISTANCE_METHODS)
def test_fit_rejects_bad_inputs(name, distance, kns, match):
    with pytest.raises(DKNBenchError, match=match):
        get_dkn_method(name).fit(distance, kns)


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("ntc", {"tau1": -0.1}, "tau1"),
        ("ntc", {"min_size": 1}, "min_size"),
        ("ntc", {"filter_mode": "ratio"}, "filter_mode"),
        ("ntc", {"tau2": "high"}, "tau2"),
        ("kmeans", {"n_clusters": 1}, "n_clusters"),
        ("dbscan", {"eps_quantile": 2.0}, "eps_quantile"),
        ("hierarchical", {"linkage_method": "ward"}, "linkage_method"),
        ("amig-pairs", {"top_k": 1}, "top_k"),
        ("amig-pairs", {"drop_mode": "log"}, "drop_mode"),
    ],
)
def test_fit_rejects_bad_hyper_parameters(name, params, match):
    kns = [(0, 0), (1, 0), (1, 1)]
    s = FakeScorer(kns, lambda a: 0.5)
    with pytest.raises(DKNBenchError, match=match):
        get_dkn_method(name, **params).fit(GOOD, kns, s)


def test_amig_pairs_needs_a_scorer_and_a_known_fact():
    with pytest.raises(DKNBenchError, match="needs a scorer"):
        AMIGPairs().fit(None, KNS3)
    with pytest.raises(DKNBenchError, match="base_prob > 0"):
        AMIGPairs().fit(None, KNS3, FakeScorer(KNS3, lambda a: 0.0))

    class NoBase:
        def prob_suppressing(self, neurons):
            return 0.1

    with pytest.raises(DKNBenchError, match="base_prob"):
        AMIGPairs().fit(None, KNS3, NoBase())


def test_dkn_to_dict_is_json_ready():
    import json

    kns = kn_list(7)
    d = NTC().fit(two_groups(), kns).dkn_.to_dict()
    again = json.loads(json.dumps(d))
    assert again["bdcs"][0] == [list(n) for n in kns[:4]] and again["method"] == "ntc"
