"""The numpy reference against a hand-worked network and finite differences.

Everything else is tested against the reference, so it must stand on its own.
"""

import numpy as np
import pytest

from fastbp import reference as ref

from conftest import HIDDEN, PAIRINGS, make_targets


def hand_network():
    """[2, 2, 1] sigmoid network, quadratic cost, one sample, worked by hand:

    z1 = W1 x + b1 = (0.1·1 + 0.2·2 + 0.5, 0.3·1 + 0.4·2 − 0.5) = (1.0, 0.6)
    a1 = σ(z1) = (0.7310586, 0.6456563)
    z2 = 0.6·0.7310586 − 0.7·0.6456563 + 0.1 = 0.0866757,  a2 = σ(z2) = 0.5216554
    C  = ½(a2 − 1)² = 0.1144068
    δ2 = (a2 − y) σ'(z2) = (−0.4783446)(0.2495311) = −0.1193618          (BP1)
    ∂C/∂W2 = δ2 a1 = (−0.0872605, −0.0770667),  ∂C/∂b2 = δ2               (BP4, BP3)
    δ1 = W2ᵀ δ2 ⊙ σ'(z1) = (0.6·δ2·0.1966119, −0.7·δ2·0.2287842)
       = (−0.0140808, 0.0191157)                                         (BP2)
    ∂C/∂W1 = δ1 xᵀ = [[−0.0140808, −0.0281616], [0.0191157, 0.0382313]]
    """
    weights = [np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[0.6, -0.7]])]
    biases = [np.array([0.5, -0.5]), np.array([0.1])]
    X = np.array([[1.0, 2.0]])
    Y = np.array([[1.0]])
    return weights, biases, X, Y


HAND = dict(
    a1=[0.7310586, 0.6456563], a2=0.5216554, cost=0.1144068,
    dW1=[[-0.0140808, -0.0281616], [0.0191157, 0.0382313]], db1=[-0.0140808, 0.0191157],
    dW2=[[-0.0872605, -0.0770667]], db2=[-0.1193618],
)


def test_reference_matches_hand_worked_network():
    weights, biases, X, Y = hand_network()
    acts = ["sigmoid", "sigmoid"]
    _, outs = ref.feedforward(weights, biases, X, acts)
    np.testing.assert_allclose(outs[1][0], HAND["a1"], atol=5e-8)
    np.testing.assert_allclose(outs[2][0, 0], HAND["a2"], atol=5e-8)
    assert ref.total_cost(weights, biases, X, Y, acts, "quadratic") == pytest.approx(HAND["cost"], abs=5e-8)
    nabla_w, nabla_b = ref.backprop(weights, biases, X, Y, acts, "quadratic")
    for got, want in zip(nabla_w + nabla_b, [HAND[k] for k in ("dW1", "dW2", "db1", "db2")]):
        np.testing.assert_allclose(got, want, atol=5e-8)   # 7 decimals, as worked above


def numeric_gradient(weights, biases, X, Y, acts, cost, l2, sample_weight, h=1e-6):
    """Central differences of total_cost over every parameter, float64."""
    def f():
        return ref.total_cost(weights, biases, X, Y, acts, cost, l2=l2, sample_weight=sample_weight)
    grads = []
    for p in weights + biases:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = f()
            p[idx] = old - h
            down = f()
            p[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("cost,output", PAIRINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_reference_backprop_matches_finite_differences(cost, output, hidden):
    rng = np.random.default_rng(abs(hash((cost, output, hidden))) % 2**32)
    sizes = [4, 5, 3, 3]
    weights = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=o) for o in sizes[1:]]
    X = rng.normal(size=(6, sizes[0]))
    Y = make_targets(rng, 6, sizes[-1], cost, output)
    if Y.ndim == 1:
        Y = np.eye(sizes[-1])[Y]
    sample_weight = rng.random(6) + 0.1
    acts = [hidden, hidden, output]
    nabla_w, nabla_b = ref.backprop(weights, biases, X, Y, acts, cost, l2=0.3, sample_weight=sample_weight)
    numeric = numeric_gradient(weights, biases, X, Y, acts, cost, 0.3, sample_weight)
    analytic = np.concatenate([g.ravel() for g in nabla_w + nabla_b])
    numeric = np.concatenate([g.ravel() for g in numeric])
    # Ng's measure. Central differences with h=1e-6 in float64 are accurate to
    # about h² + eps/h ≈ 1e-10 relative; 1e-7 leaves margin (a wrong formula
    # gives O(1)). ReLU kinks: no z lands within h of 0 for these seeds.
    rel = np.linalg.norm(numeric - analytic) / np.linalg.norm(numeric + analytic)
    assert rel < 1e-7


def test_sigmoid_is_stable_for_huge_inputs():
    z = np.array([[-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = ref.activation(z, "sigmoid")
    assert a[0, 0] == 0.0 and a[0, -1] == 1.0 and a[0, 3] == 0.5
    np.testing.assert_allclose(a[0, 2], 1 / (1 + np.exp(30.0)), rtol=1e-14)


def test_cross_entropy_stays_finite_when_the_output_saturates():
    z = np.array([[800.0], [-800.0]])
    a = ref.activation(z, "sigmoid")
    y = np.array([[0.0], [1.0]])
    np.testing.assert_allclose(ref.sample_costs(z, a, y, "cross_entropy"), [800.0, 800.0])
