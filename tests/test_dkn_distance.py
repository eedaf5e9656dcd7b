"""Neuron distance matrix (000 Eq. 4-7) on hand-made weights with known answers."""

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import shortest_path

from dknbench.dkn import adjacent_weight_matrix, floyd_warshall, neuron_distance_matrix, validate_distance
from dknbench.errors import DKNBenchError

INF = np.inf


class Weights:
    """A fake adapter: per layer, write rows [n, d] and gate/up read rows [n, d]."""

    def __init__(self, write, gate, up=None, is_gated=True):
        self.write, self.gate, self.up, self.is_gated = write, gate, up if up is not None else gate, is_gated
        self.calls = []

    def read_vectors(self, layer, which="gate"):
        self.calls.append((layer, which))
        if not self.is_gated:
            return torch.tensor(self.up[layer])
        return torch.tensor({"gate": self.gate, "up": self.up, "both": self.gate}[which][layer])

    def write_vectors(self, layer):
        return torch.tensor(self.write[layer])


def e(i, scale=1.0, d=4):
    v = np.zeros(d)
    v[i] = scale
    return v


def chain_weights():
    """3 layers x 2 neurons, d_model 4. Connections (write(A) . read(B)):
    (0,0)->(1,0): 2 (d 0.5); (0,0)->(1,1): 0.5 (d 2); (1,0)->(2,0): -4 (d 0.25); (1,1)->(2,0): 1 (d 1);
    (0,1) writes into a direction nobody reads: w = 0 everywhere -> isolated.
    """
    write = {
        0: np.stack([e(0, 1.0), e(3, 1.0)]),
        1: np.stack([e(1, -2.0), e(1, 0.5)]),
        2: np.stack([e(2), e(2)]),
    }
    gate = {
        0: np.stack([e(0), e(0)]),
        1: np.stack([e(0, 2.0), e(0, 0.5)]),
        2: np.stack([e(1, 2.0), e(2)]),
    }
    return Weights(write, gate)


def test_three_layer_chain_known_distances():
    w = chain_weights()
    kns = [(0, 0), (1, 0), (2, 0)]
    d = neuron_distance_matrix(kns, w.read_vectors, w.write_vectors)
    expected = np.array([[0, 0.5, 0.75], [0.5, 0, 0.25], [0.75, 0.25, 0]])
    np.testing.assert_allclose(d, expected)


def test_shortest_path_goes_through_the_cheaper_intermediate_kn():
    w = chain_weights()
    kns = [(0, 0), (1, 0), (1, 1), (2, 0)]
    d = neuron_distance_matrix(kns, w)  # adapter object form
    # (0,0)-(2,0): no direct edge; via (1,0): 0.5 + 0.25; via (1,1): 2 + 1.
    assert d[0, 3] == pytest.approx(0.75)
    assert d[3, 0] == pytest.approx(0.75)
    # Without (1,0) in the KN set the only path is through (1,1): paths run through KNs only.
    d2 = neuron_distance_matrix([(0, 0), (1, 1), (2, 0)], w)
    assert d2[0, 2] == pytest.approx(3.0)


def test_same_layer_is_infinite_even_with_a_path_and_option_path():
    w = chain_weights()
    kns = [(0, 0), (1, 0), (1, 1)]
    d = neuron_distance_matrix(kns, w)
    assert d[1, 2] == INF and d[2, 1] == INF
    dp = neuron_distance_matrix(kns, w, same_layer="path")
    assert dp[1, 2] == pytest.approx(2.5)  # 0.5 + 2 through (0,0)
    assert np.all(np.diag(d) == 0)


def test_zero_weight_and_unreachable_layers_are_infinite():
    w = chain_weights()
    d = neuron_distance_matrix([(0, 1), (1, 0), (2, 0)], w)
    assert d[0, 1] == INF and d[0, 2] == INF  # (0,1) has w = 0 to every layer-1 neuron
    d = neuron_distance_matrix([(0, 0), (2, 0)], w)  # no layer-1 KN: no path
    assert d[0, 1] == INF and d[1, 0] == INF


def test_rows_follow_the_given_kn_order():
    w = chain_weights()
    d = neuron_distance_matrix([(2, 0), (0, 0), (1, 0)], w)
    assert d[0, 1] == pytest.approx(0.75) and d[1, 2] == pytest.approx(0.5) and d[0, 2] == pytest.approx(0.25)


def test_read_up_and_both_for_gated_models():
    write = {0: np.stack([e(0)]), 1: np.stack([e(0)])}
    gate = {0: np.stack([e(0)]), 1: np.stack([e(0, 4.0)])}
    up = {0: np.stack([e(0)]), 1: np.stack([e(0, -1.0)])}
    w = Weights(write, gate, up)
    kns = [(0, 0), (1, 0)]
    assert neuron_distance_matrix(kns, w, read="gate")[0, 1] == pytest.approx(0.25)
    assert neuron_distance_matrix(kns, w, read="up")[0, 1] == pytest.approx(1.0)
    # both: w = (4 + -1) / 2 = 1.5 -> d = 1/1.5
    assert neuron_distance_matrix(kns, w, read="both")[0, 1] == pytest.approx(1 / 1.5)
    assert (1, "up") in w.calls and (1, "gate") in w.calls
    # gate and up cancelling exactly: w = 0 -> inf
    up[1] = np.stack([e(0, -4.0)])
    assert neuron_distance_matrix(kns, w, read="both")[0, 1] == INF


def test_non_gated_model_ignores_which():
    write = {0: np.stack([e(0)])}
    up = {1: np.stack([e(0, 5.0)])}
    w = Weights(write, gate=None, up=up, is_gated=False)
    for read in ("gate", "up", "both"):
        assert neuron_distance_matrix([(0, 0), (1, 0)], w, read=read)[0, 1] == pytest.approx(0.2)


def test_random_weights_match_scipy_shortest_path_oracle():
    rng = np.random.default_rng(3)
    layers, n_neurons, dm = 5, 6, 8
    write = {l: rng.normal(size=(n_neurons, dm)) for l in range(layers)}
    gate = {l: rng.normal(size=(n_neurons, dm)) for l in range(layers)}
    w = Weights(write, gate)
    kns = sorted({(int(rng.integers(layers)), int(rng.integers(n_neurons))) for _ in range(14)})
    d = neuron_distance_matrix(kns, w.read_vectors, w.write_vectors)

    n = len(kns)
    graph = np.zeros((n, n))  # dense csgraph: 0 = no edge
    for i, (la, ia) in enumerate(kns):
        for j, (lb, ib) in enumerate(kns):
            if lb == la + 1:
                graph[i, j] = graph[j, i] = abs(1.0 / float(write[la][ia] @ gate[lb][ib]))
    oracle = shortest_path(graph, method="D", directed=False)
    for i, (la, _) in enumerate(kns):
        for j, (lb, _) in enumerate(kns):
            if i != j and la == lb:
                oracle[i, j] = INF
    np.testing.assert_allclose(d, oracle, rtol=1e-12)
    validate_distance(d, n)  # symmetric, nonnegative, zero diagonal


def test_adjacent_weight_matrix_signs_and_nan_elsewhere():
    w = chain_weights()
    wm = adjacent_weight_matrix([(0, 0), (1, 0), (2, 0)], w)
    assert wm[1, 2] == pytest.approx(-4.0) and wm[2, 1] == pytest.approx(-4.0)
    assert np.isnan(wm[0, 2]) and np.isnan(wm[0, 0])


def test_floyd_warshall_equation_6():
    d = np.array([[0, 1, INF, INF], [1, 0, 2, INF], [INF, 2, 0, INF], [INF, INF, INF, 0]])
    out = floyd_warshall(d)
    assert out[0, 2] == 3 and out[0, 3] == INF and out[3, 3] == 0


def test_floyd_warshall_equals_the_triple_loop_of_equation_6():
    """The scipy-backed wrapper against Eq. 6 written out literally, on random sparse graphs."""
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 12):
        d = np.where(rng.random((n, n)) < 0.4, rng.uniform(0.1, 5.0, (n, n)), INF)
        d = np.minimum(d, d.T)
        expected = d.copy()
        np.fill_diagonal(expected, 0.0)
        for m in range(n):
            for i in range(n):
                for j in range(n):
                    expected[i, j] = min(expected[i, j], expected[i, m] + expected[m, j])
        np.testing.assert_allclose(floyd_warshall(d), expected)


@pytest.mark.parametrize(
    "kns, kwargs, match",
    [
        ([(0, 0), (0, 0)], {}, "duplicate"),
        ([(0, 0), (1, 9)], {}, "out of range"),
        ([(0, 0), (1, "a")], {}, "pair of ints"),
        ([(0, 0), (1, 0)], {"read": "down"}, "read must be one of"),
        ([(0, 0), (1, 0)], {"same_layer": "zero"}, "same_layer"),
    ],
)
def test_bad_input_raises_clear_errors(kns, kwargs, match):
    with pytest.raises(DKNBenchError, match=match):
        neuron_distance_matrix(kns, chain_weights(), **kwargs)


def test_dimension_mismatch_and_missing_callables():
    w = Weights({0: np.ones((1, 3))}, {1: np.ones((1, 4))})
    with pytest.raises(DKNBenchError, match="d_model mismatch"):
        neuron_distance_matrix([(0, 0), (1, 0)], w)
    with pytest.raises(DKNBenchError, match="callables"):
        neuron_distance_matrix([(0, 0)], object())
