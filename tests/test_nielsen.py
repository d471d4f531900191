"""fastbp.nielsen: Nielsen's network.py / network2.py / mnist_loader.py, compiled.

The oracles are his code, copied literally below (Python 3 syntax; the only
change: SGD takes each epoch's order instead of calling random.shuffle, so
that it can replay the shuffles the compiled version used).

Tolerances: one gradient agrees to 1e-12 relative (one pass of sums of at
most 784 products, summed in a different order by the compiled kernels:
errors of a few ulps). Whole SGD runs agree to 1e-10 relative: tens of
steps of a contractive sigmoid network compound those ulp-level differences
to ~1e-14, while any algorithmic difference (another order, batch mean vs
sum, L2 with the wrong n, a skipped step) shows up at 1e-3 or more.
"""

import copy
import gzip
import json
import os
import pickle
import random
import re
import sys

import numpy as np
import pytest

import fastbp.nielsen.mnist_loader as mnist_loader
import fastbp.nielsen.network as network
import fastbp.nielsen.network2 as network2
from fastbp import reference as ref

RTOL_STEP = 1e-12
RTOL_RUN = 1e-10


# =========================================================== his code (oracle)
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def his_vectorized_result(j):
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


class HisNetwork:
    """network.py; __init__ takes the initial weights instead of drawing them."""

    def __init__(self, sizes, weights, biases):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.array(b, dtype=float) for b in biases]
        self.weights = [np.array(w, dtype=float) for w in weights]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, orders, mini_batch_size, eta):
        training_data = list(training_data)
        n = len(training_data)
        for order in orders:
            shuffled = [training_data[i] for i in order]            # his random.shuffle(training_data)
            mini_batches = [shuffled[k:k + mini_batch_size] for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        return output_activations - y


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


class HisNetwork2:
    """network2.py (his load below creates it, so __init__ draws as his does)."""

    def __init__(self, sizes, cost=CrossEntropyCost):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.default_weight_initializer()
        self.cost = cost

    def default_weight_initializer(self):
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def sgd_epoch(self, training_data, order, mini_batch_size, eta, lmbda):
        """The body of his SGD's epoch loop, with the given order for random.shuffle."""
        n = len(training_data)
        shuffled = [training_data[i] for i in order]
        mini_batches = [shuffled[k:k + mini_batch_size] for k in range(0, n, mini_batch_size)]
        for mini_batch in mini_batches:
            self.update_mini_batch(mini_batch, eta, lmbda, len(training_data))

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def accuracy(self, data, convert=False):
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = his_vectorized_result(y)
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost

    def save(self, filename):
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        f = open(filename, "w")
        json.dump(data, f)
        f.close()


def his_load(filename):
    f = open(filename, "r")
    data = json.load(f)
    f.close()
    cost = getattr(sys.modules[__name__], data["cost"])
    net = HisNetwork2(data["sizes"], cost=cost)
    net.weights = [np.array(w) for w in data["weights"]]
    net.biases = [np.array(b) for b in data["biases"]]
    return net


HIS_COST = {network2.QuadraticCost: QuadraticCost, network2.CrossEntropyCost: CrossEntropyCost}


def his_copy(net):
    """His network holding copies of a fastbp.nielsen network's parameters."""
    if isinstance(net, network2.Network):
        his = HisNetwork2(net.sizes, cost=HIS_COST[net.cost if isinstance(net.cost, type) else type(net.cost)])
        his.weights = [w.copy() for w in net.weights]
        his.biases = [b.copy() for b in net.biases]
        return his
    return HisNetwork(net.sizes, net.weights, net.biases)


# ================================================================== helpers
def his_format(n, n_in=784, n_out=10, seed=0, one_hot=True):
    """Data as his Python 3 load_data_wrapper returns it: a zip of (x (n_in, 1), y) with y a
    one-hot (n_out, 1) column (training) or an int64 label (validation / test)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in)).astype(np.float32)
    labels = rng.integers(0, n_out, n)
    inputs = [np.reshape(x, (n_in, 1)) for x in X]
    if one_hot:
        results = [np.eye(n_out)[j].reshape(n_out, 1) for j in labels]
        return zip(inputs, results)
    return zip(inputs, labels)


def assert_layers_close(actual, expected, rtol, what=""):
    assert len(actual) == len(expected)
    for l, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == np.shape(e), f"{what}[{l}]"
        scale = max(1.0, float(np.max(np.abs(e))))
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=f"{what}[{l}]")


# ============================================================ network.py
def test_his_call_pattern_runs_unchanged_and_prints_his_lines(capsys):
    training_data, test_data = his_format(200, seed=0), his_format(50, seed=1, one_hot=False)   # zip objects
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 2, 10, 3.0, test_data=test_data)
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r": \d+ /", ": N /", line) for line in lines] == ["Epoch 0: N / 50", "Epoch 1: N / 50"]
    test_list = list(his_format(50, seed=1, one_hot=False))
    assert int(lines[-1].split()[2]) == net.evaluate(test_list) == his_copy(net).evaluate(test_list)

    net.SGD(list(his_format(30, seed=2)), 2, 7, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


def test_attributes_and_shapes_are_his():
    net = network.Network([6, 5, 4, 3])
    assert net.num_layers == 4 and net.sizes == [6, 5, 4, 3]
    assert [b.shape for b in net.biases] == [(5, 1), (4, 1), (3, 1)]
    assert [w.shape for w in net.weights] == [(5, 6), (4, 5), (3, 4)]
    assert all(a.dtype == np.float64 for a in net.weights + net.biases)
    nabla_b, nabla_w = net.backprop(np.ones((6, 1)), his_vectorized_result(2)[:3])
    assert [b.shape for b in nabla_b] == [(5, 1), (4, 1), (3, 1)]
    assert [w.shape for w in nabla_w] == [(5, 6), (4, 5), (3, 4)]
    assert net.feedforward(np.ones((6, 1))).shape == (3, 1)
    assert net.feedforward(np.ones((6, 7))).shape == (3, 7)
    assert net.feedforward(np.ones(6)).shape == (3,)
    np.testing.assert_array_equal(net.cost_derivative(np.ones((3, 1)), np.zeros((3, 1))), np.ones((3, 1)))
    z = np.linspace(-800, 800, 9)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(network.sigmoid(z), 1.0 / (1.0 + np.exp(-z)))   # his formula, no warning
    np.testing.assert_allclose(network.sigmoid_prime(np.array([0.0])), [0.25])


def test_initial_weights_are_his_np_random_draws():
    sizes = [7, 5, 3]
    np.random.seed(11)
    b = [np.random.randn(y, 1) for y in sizes[1:]]
    w = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
    np.random.seed(11)
    net = network.Network(sizes)
    assert_layers_close(net.biases, b, 0.0)
    assert_layers_close(net.weights, w, 0.0)

    for init in ("default_weight_initializer", "large_weight_initializer"):
        np.random.seed(12)
        his = HisNetwork2(sizes)
        getattr(his, init)()
        np.random.seed(12)
        ours = network2.Network(sizes)
        getattr(ours, init)()
        assert_layers_close(ours.biases, his.biases, 0.0, init)
        assert_layers_close(ours.weights, his.weights, 0.0, init)


def test_feedforward_and_evaluate_match_his():
    np.random.seed(0)
    net = network.Network([20, 9, 4])
    his = his_copy(net)
    X = np.random.default_rng(1).normal(size=(20, 6))
    np.testing.assert_allclose(net.feedforward(X[:, :1]), his.feedforward(X[:, :1]), rtol=RTOL_STEP)
    np.testing.assert_allclose(net.feedforward(X), his.feedforward(X), rtol=RTOL_STEP)
    np.testing.assert_allclose(net.feedforward(X[:, 0]), his.feedforward(X[:, :1])[:, 0], rtol=RTOL_STEP)
    data = list(his_format(40, n_in=20, n_out=4, seed=3, one_hot=False))
    assert net.evaluate(data) == his.evaluate(data)
    assert net.evaluate(iter(data)) == his.evaluate(data)


@pytest.mark.parametrize("module, cost", [(network, None), (network2, network2.QuadraticCost),
                                          (network2, network2.CrossEntropyCost)])
def test_backprop_equals_his_for_one_sample(module, cost):
    np.random.seed(3)
    net = module.Network([784, 30, 10]) if cost is None else module.Network([784, 30, 10], cost=cost)
    his = his_copy(net)
    rng = np.random.default_rng(4)
    for j in range(3):
        x = rng.random((784, 1))
        y = his_vectorized_result(j)
        nabla_b, nabla_w = net.backprop(x, y)
        his_b, his_w = his.backprop(x, y)
        assert_layers_close(nabla_b, his_b, RTOL_STEP, "nabla_b")
        assert_layers_close(nabla_w, his_w, RTOL_STEP, "nabla_w")
    nabla_b, nabla_w = net.backprop(x, 2)                    # an int label means its one-hot column
    assert_layers_close(nabla_b, his.backprop(x, his_vectorized_result(2))[0], RTOL_STEP, "label")


def test_update_mini_batch_equals_his():
    np.random.seed(5)
    batch = list(his_format(7, n_in=12, n_out=10, seed=6))

    net = network.Network([12, 8, 10])
    his = his_copy(net)
    net.update_mini_batch(batch, 3.0)
    his.update_mini_batch(batch, 3.0)
    assert_layers_close(net.weights, his.weights, RTOL_STEP, "weights")
    assert_layers_close(net.biases, his.biases, RTOL_STEP, "biases")

    net2 = network2.Network([12, 8, 10])
    his2 = his_copy(net2)
    net2.update_mini_batch(iter(batch), 0.5, 5.0, 100)
    his2.update_mini_batch(batch, 0.5, 5.0, 100)
    assert_layers_close(net2.weights, his2.weights, RTOL_STEP, "weights")
    assert_layers_close(net2.biases, his2.biases, RTOL_STEP, "biases")


def test_sgd_equals_the_reference_with_the_same_shuffles():
    """Compiled SGD = fastbp.reference.sgd_epoch (plain numpy) replaying the orders it used."""
    n, epochs, m, eta = 103, 3, 10, 3.0
    training_data = list(his_format(n, seed=7))
    random.seed(8)
    np.random.seed(8)
    net = network.Network([784, 30, 10])
    weights = [w.copy() for w in net.weights]
    biases = [b.ravel().copy() for b in net.biases]
    net.SGD(training_data, epochs, m, eta)

    X = np.concatenate([x.reshape(1, -1) for x, _ in training_data]).astype(np.float64)
    Y = np.concatenate([y.reshape(1, -1) for _, y in training_data])
    for order in network.epoch_orders(net.shuffle_seed, n, epochs):
        ref.sgd_epoch(weights, biases, X, Y, ["sigmoid", "sigmoid"], "quadratic", order, m, eta)
    assert_layers_close(net.weights, weights, RTOL_RUN, "weights")
    assert_layers_close(net.biases, [b.reshape(-1, 1) for b in biases], RTOL_RUN, "biases")
    assert not np.allclose(net.weights[1], his_copy(network.Network([784, 30, 10])).weights[1])


def test_network2_sgd_with_l2_equals_his_loop_with_the_same_shuffles():
    n, epochs, m, eta, lmbda = 57, 2, 8, 0.5, 5.0
    training_data = list(his_format(n, n_in=30, seed=9))
    random.seed(10)
    net = network2.Network([30, 12, 10], cost=network2.CrossEntropyCost)
    his = his_copy(net)
    net.SGD(training_data, epochs, m, eta, lmbda=lmbda)
    for order in network.epoch_orders(net.shuffle_seed, n, epochs):
        his.sgd_epoch(training_data, order, m, eta, lmbda)
    assert_layers_close(net.weights, his.weights, RTOL_RUN, "weights")
    assert_layers_close(net.biases, his.biases, RTOL_RUN, "biases")


def test_random_seed_makes_runs_reproducible(capsys):
    data = list(his_format(40, n_in=10, seed=11))
    runs = []
    for seed in (1, 1, 2):
        random.seed(seed)
        np.random.seed(seed)
        net = network.Network([10, 6, 10])
        net.SGD(data, 2, 5, 3.0)
        runs.append(np.concatenate([w.ravel() for w in net.weights]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_weights_and_biases_are_views_with_his_snapshot_semantics():
    np.random.seed(12)
    net = network.Network([10, 6, 4])
    w0, biases = net.weights[0], net.biases
    initial_w0, initial_biases = w0.copy(), [b.copy() for b in biases]
    w0[0, 0] = 0.25                                             # a write before training is trained on
    net.SGD(list(his_format(30, n_in=10, n_out=4, seed=13)), 1, 5, 3.0)
    # His steps build new arrays, so what was taken before training keeps its values; a new read is trained.
    initial_w0[0, 0] = 0.25
    np.testing.assert_array_equal(w0, initial_w0)
    assert_layers_close(biases, initial_biases, 0.0)
    assert not np.array_equal(net.weights[0], initial_w0)
    np.testing.assert_array_equal(net.weights[0], net._core.weights[0])
    x = np.ones((10, 1))

    net.weights[0][...] = 0.0                                   # his users write into the arrays
    net.biases[0][:] = 0.0
    np.testing.assert_allclose(net.feedforward(x), his_copy(net).feedforward(x), rtol=RTOL_STEP)
    assert np.all(his_copy(net).weights[0] == 0)

    net.weights[1] = np.full((4, 6), 0.5)                       # item assignment writes through
    net.biases = [np.zeros((6, 1)), np.arange(4.0)]             # so does assigning the lists; (n,) is fine
    assert np.all(net.weights[1] == 0.5) and net.biases[1][3, 0] == 3.0
    np.testing.assert_allclose(net.feedforward(x), his_copy(net).feedforward(x), rtol=RTOL_STEP)

    before = [b.copy() for b in net.biases]
    with pytest.raises(ValueError, match=r"biases\[1\] must have shape \(4, 1\)"):
        net.biases = [np.zeros((6, 1)), np.zeros((5, 1))]
    with pytest.raises(ValueError, match="needs 2 arrays"):
        net.weights = [np.zeros((6, 10))]
    with pytest.raises(ValueError, match="NaN"):
        net.weights[0] = np.full((6, 10), np.nan)
    with pytest.raises(TypeError, match="cannot be added"):
        net.weights.append(np.zeros((3, 4)))
    assert_layers_close(net.biases, before, 0.0)

    snapshot = copy.deepcopy(net.weights)                       # his early-stopping idiom
    twin = copy.deepcopy(net)
    net.weights[1][...] = 9.0
    assert type(snapshot) is list and np.all(snapshot[1] == 0.5) and np.all(twin.weights[1] == 0.5)
    twin.SGD(list(his_format(10, n_in=10, n_out=4, seed=14)), 1, 5, 1.0)
    assert np.all(net.weights[1] == 9.0)


def test_replacing_a_layer_leaves_arrays_taken_from_it_as_his_do():
    np.random.seed(3)
    net = network2.Network([4, 3, 3])
    weights, biases = net.weights, net.biases
    w = net.weights[0]
    saved = w.copy()
    net.weights[0] = w + 1.0                        # his list slot now holds a new array ...
    np.testing.assert_array_equal(w, saved)         # ... and the one taken before keeps its values
    np.testing.assert_array_equal(net.weights[0], saved + 1.0)
    assert weights is net.weights and biases is net.biases      # one list each, as his, until training
    np.testing.assert_array_equal(weights[0], saved + 1.0)
    weights[1][...] = 0.0
    biases[0][...] = 0.0
    assert np.all(his_copy(net).weights[1] == 0) and np.all(his_copy(net).biases[0] == 0)
    assert pickle.loads(pickle.dumps(net)).weights[0][0, 0] == net.weights[0][0, 0]
    w0, w1 = net.weights[0], net.weights[1]
    net.weights[0] += 1.0                           # in place, as on his lists: nothing is replaced
    w0[...] = 0.0
    w1[...] = 0.0
    assert np.all(his_copy(net).weights[0] == 0) and np.all(his_copy(net).weights[1] == 0)

    # The textbook gradient check by hand agrees with backprop.
    x, y = np.random.rand(4, 1), network2.vectorized_result(1)[:3]
    w, eps, (j, k) = net.weights[0], 1e-6, (1, 2)
    bump = np.zeros_like(w)
    bump[j, k] = eps
    net.weights[0] = w + bump
    up = net.cost.fn(net.feedforward(x), y)
    net.weights[0] = w - bump
    down = net.cost.fn(net.feedforward(x), y)
    net.weights[0] = w
    assert (up - down) / (2 * eps) == pytest.approx(net.backprop(x, y)[1][0][j, k], rel=1e-6)


def test_whole_lists_assigned_back_are_the_networks_again_as_his_are(capsys):
    np.random.seed(4)
    net = network2.Network([4, 3, 3])
    weights = net.weights
    w0 = weights[0]
    net.weights = weights                            # his: changes nothing
    assert weights is net.weights
    w0[0, 0] = 123.0
    assert net.weights[0][0, 0] == 123.0
    best = net.weights                               # his best-weights idiom ...
    net.SGD(list(his_format(6, n_in=4, n_out=3, seed=5)), 1, 2, 0.5)
    assert best is not net.weights
    old, saved = best[0], best[0].copy()
    best[0] *= 1.0                                   # in place: the slot keeps its array
    assert best[0] is old
    best[0] = old + 1.0                              # a slot of the old list replaced: old keeps its values
    np.testing.assert_array_equal(old, saved)
    net.weights = best                               # ... and the old list is the network's again
    assert best is net.weights and np.array_equal(net.weights[0], saved + 1.0)
    best[1][...] = 0.0
    assert np.all(his_copy(net).weights[1] == 0)


def test_costs_may_be_given_as_instances_and_changing_cost_keeps_arrays_live(tmp_path):
    net = network2.Network([5, 4, 3], cost=network2.CrossEntropyCost())        # as his chapter 3 scripts do
    assert isinstance(net.cost, network2.CrossEntropyCost)
    w = net.weights[0]
    net.cost = network2.QuadraticCost()
    w[...] = 0.0                                    # his cost is only an attribute: w is still the network's
    assert np.all(net.weights[0] == 0) and np.all(his_copy(net).weights[0] == 0)
    net.save(tmp_path / "net.json")
    assert json.load(open(tmp_path / "net.json"))["cost"] == "QuadraticCost"
    assert network2.load(tmp_path / "net.json").cost is network2.QuadraticCost


def _port_stop(accuracies, n):
    """Epochs the Python 3 port's early_stopping_n rule trains for, given each epoch's accuracy."""
    best, stalled = 0, 0
    for epoch, accuracy in enumerate(accuracies, 1):
        best, stalled = (accuracy, 0) if accuracy > best else (best, stalled + 1)
        if stalled == n:
            return epoch
    return len(accuracies)


@pytest.mark.parametrize("watch", ["evaluation", "training"])
def test_network2_early_stopping_n_follows_the_python3_port(watch, capsys):
    data = list(his_format(60, n_in=10, n_out=4, seed=32))
    monitors = {f"monitor_{watch}_accuracy": True}
    runs = []
    for early_stopping_n in (0, 2):
        random.seed(5)
        np.random.seed(33)
        net = network2.Network([10, 5, 4])
        runs.append(net.SGD(data, 25, 10, 4.0, evaluation_data=data[:30], early_stopping_n=early_stopping_n,
                            **monitors))
    accuracies = runs[0][1] if watch == "evaluation" else runs[0][3]
    stopped = runs[1][1] if watch == "evaluation" else runs[1][3]
    assert len(stopped) == _port_stop(accuracies, 2) < 25      # the rule triggered, and only then
    assert stopped == accuracies[:len(stopped)]                  # the same training up to there
    capsys.readouterr()


def test_network2_early_stopping_n_is_checked():
    net = network2.Network([4, 3, 2])
    data = list(his_format(6, n_in=4, n_out=2, seed=34))
    with pytest.raises(ValueError, match="early_stopping_n watches an accuracy"):
        net.SGD(data, 3, 2, 1.0, early_stopping_n=2, monitor_training_cost=True)
    with pytest.raises(ValueError, match="early_stopping_n must be an int >= 0; got -1"):
        net.SGD(data, 3, 2, 1.0, early_stopping_n=-1)


def test_best_weights_idiom_restores_a_snapshot():
    # Early stopping by hand, as his readers write it: keep net.weights / net.biases of the best epoch,
    # train on, put them back. In his code the kept lists are the arrays that later steps replaced.
    data = list(his_format(40, n_in=10, n_out=4, seed=31))
    np.random.seed(30)
    net = network2.Network([10, 6, 4])
    best_w, best_b = net.weights, net.biases
    kept_w, kept_b = [w.copy() for w in best_w], [b.copy() for b in best_b]
    net.SGD(data, 2, 8, 0.5)
    assert not np.array_equal(net.weights[0], kept_w[0])
    net.weights, net.biases = best_w, best_b
    assert_layers_close(net.weights, kept_w, 0.0)
    assert_layers_close(net.biases, kept_b, 0.0)
    np.testing.assert_allclose(net.feedforward(data[0][0]), his_copy(net).feedforward(data[0][0]), rtol=RTOL_STEP)


# ================================================================ network2.py
def test_network2_monitors_equal_his_total_cost_and_accuracy_and_print_his_lines(capsys):
    n, n_eval, epochs, m, eta, lmbda = 60, 25, 3, 10, 0.5, 2.0
    training_data = list(his_format(n, n_in=40, seed=15))
    evaluation_data = list(his_format(n_eval, n_in=40, seed=16, one_hot=False))
    random.seed(17)
    np.random.seed(17)
    net = network2.Network([40, 16, 10])
    his = his_copy(net)
    result = net.SGD(iter(training_data), epochs, m, eta, lmbda=lmbda, evaluation_data=iter(evaluation_data),
                     monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                     monitor_training_cost=True, monitor_training_accuracy=True)
    assert isinstance(result, tuple) and [len(r) for r in result] == [epochs] * 4
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = result

    expected_lines = []
    for j, order in enumerate(network.epoch_orders(net.shuffle_seed, n, epochs)):
        his.sgd_epoch(training_data, order, m, eta, lmbda)
        np.testing.assert_allclose(training_cost[j], his.total_cost(training_data, lmbda), rtol=RTOL_RUN)
        assert training_accuracy[j] == his.accuracy(training_data, convert=True)
        np.testing.assert_allclose(evaluation_cost[j], his.total_cost(evaluation_data, lmbda, convert=True),
                                   rtol=RTOL_RUN)
        assert evaluation_accuracy[j] == his.accuracy(evaluation_data)
        expected_lines += ["Epoch %s training complete" % j,
                           "Cost on training data: {}".format(training_cost[j]),
                           "Accuracy on training data: {} / {}".format(training_accuracy[j], n),
                           "Cost on evaluation data: {}".format(evaluation_cost[j]),
                           "Accuracy on evaluation data: {} / {}".format(evaluation_accuracy[j], n_eval)]
    assert capsys.readouterr().out.splitlines() == expected_lines
    assert all(type(c) is np.float64 for c in training_cost + evaluation_cost)   # as his sums of numpy floats
    assert all(type(a) is int for a in training_accuracy + evaluation_accuracy)

    # the methods themselves, with his convert flags, and with y in the other form
    np.testing.assert_allclose(net.total_cost(training_data, lmbda), his.total_cost(training_data, lmbda),
                               rtol=RTOL_RUN)
    np.testing.assert_allclose(net.total_cost(evaluation_data, lmbda, convert=True),
                               his.total_cost(evaluation_data, lmbda, convert=True), rtol=RTOL_RUN)
    assert net.accuracy(training_data, convert=True) == his.accuracy(training_data, convert=True)
    assert net.accuracy(evaluation_data) == net.accuracy(evaluation_data, convert=True) == his.accuracy(evaluation_data)


def test_network2_unmonitored_lists_are_empty(capsys):
    result = network2.Network([5, 4, 10]).SGD(list(his_format(12, n_in=5, seed=18)), 2, 4, 0.1)
    assert result == ([], [], [], [])
    assert capsys.readouterr().out == "Epoch 0 training complete\nEpoch 1 training complete\n"
    with pytest.raises(ValueError, match="need evaluation_data"):
        network2.Network([5, 4, 10]).SGD(list(his_format(12, n_in=5)), 1, 4, 0.1, monitor_evaluation_cost=True)


def test_cost_classes_and_cost_assignment_are_his():
    rng = np.random.default_rng(19)
    a, y = rng.random((10, 1)), his_vectorized_result(4)
    for ours, his in HIS_COST.items():
        assert ours.fn(a, y) == pytest.approx(his.fn(a, y), rel=1e-15)
        z = rng.normal(size=(10, 1))
        np.testing.assert_allclose(ours.delta(z, a, y), his.delta(z, a, y), rtol=1e-15)
    assert network2.CrossEntropyCost.fn(np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]])) == 0.0
    np.testing.assert_array_equal(network2.vectorized_result(3), his_vectorized_result(3))

    np.random.seed(20)
    net = network2.Network([8, 5, 10])
    assert net.cost is network2.CrossEntropyCost
    w0 = net.weights[0].copy()
    net.cost = network2.QuadraticCost                           # his attribute, reassigned
    assert net.cost is network2.QuadraticCost
    np.testing.assert_array_equal(net.weights[0], w0)
    x = rng.random((8, 1))
    assert_layers_close(net.backprop(x, y)[0], his_copy(net).backprop(x, y)[0], RTOL_STEP)
    with pytest.raises(ValueError, match="QuadraticCost or CrossEntropyCost"):
        network2.Network([8, 5, 10], cost=CrossEntropyCost)     # not this module's class


# ------------------------------------------------------------- save and load
def test_save_load_round_trip_and_his_files_both_ways(tmp_path):
    np.random.seed(21)
    net = network2.Network([6, 4, 3], cost=network2.QuadraticCost)
    path = tmp_path / "net.json"
    net.save(str(path))
    assert sorted(os.listdir(tmp_path)) == ["net.json"]          # the temporary file was renamed
    saved = json.loads(path.read_text())
    assert saved == {"sizes": [6, 4, 3], "weights": [w.tolist() for w in net.weights],
                     "biases": [b.tolist() for b in net.biases], "cost": "QuadraticCost"}

    loaded = network2.load(str(path))
    assert loaded.sizes == [6, 4, 3] and loaded.cost is network2.QuadraticCost
    assert_layers_close(loaded.weights, net.weights, 0.0)
    assert_layers_close(loaded.biases, net.biases, 0.0)

    his = his_load(str(path))                                   # his load reads our file
    assert his.cost is QuadraticCost
    assert_layers_close(net.weights, his.weights, 0.0)
    assert_layers_close(net.biases, his.biases, 0.0)

    np.random.seed(22)
    his = HisNetwork2([5, 7, 10])                               # cross-entropy, his default
    his.save(str(tmp_path / "his.json"))                        # our load reads his file
    ours = network2.load(tmp_path / "his.json")
    assert ours.cost is network2.CrossEntropyCost and ours.sizes == [5, 7, 10]
    assert_layers_close(ours.weights, his.weights, 0.0)
    assert_layers_close(ours.biases, his.biases, 0.0)

    ours.save(str(path))                                        # overwrite in place
    assert his_load(str(path)).sizes == [5, 7, 10]
    assert sorted(os.listdir(tmp_path)) == ["his.json", "net.json"]


def _good_file():
    return {"sizes": [3, 2, 2], "weights": [np.ones((2, 3)).tolist(), np.ones((2, 2)).tolist()],
            "biases": [[[0.0], [0.0]], [[0.0], [0.0]]], "cost": "CrossEntropyCost"}


def _mutated(key, value):
    data = _good_file()
    if value is KeyError:
        del data[key]
    else:
        data[key] = value
    return data


@pytest.mark.parametrize("data, message", [
    (_mutated("cost", "LogLikelihoodCost"), "unknown cost"),
    (_mutated("cost", "__import__"), "unknown cost"),
    (_mutated("cost", "sys"), "unknown cost"),
    (_mutated("cost", ["QuadraticCost"]), "unknown cost"),
    (_mutated("cost", KeyError), "missing cost"),
    (_mutated("weights", KeyError), "missing weights"),
    (_mutated("sizes", [3, 0, 2]), "positive integers"),
    (_mutated("sizes", [3, True, 2]), "positive integers"),
    (_mutated("sizes", [3]), "positive integers"),
    (_mutated("sizes", "3,2,2"), "positive integers"),
    (_mutated("weights", [np.ones((2, 3)).tolist()]), "list of 2 arrays"),
    (_mutated("weights", [np.ones((3, 2)).tolist(), np.ones((2, 2)).tolist()]), r"shape \(2, 3\)"),
    (_mutated("weights", [[[1, 1, 1], [1, 1]], np.ones((2, 2)).tolist()]), "rectangular"),
    (_mutated("weights", [[["a", 1, 1], [1, 1, 1]], np.ones((2, 2)).tolist()]), "numbers"),
    (_mutated("biases", [[0.0, 0.0], [[0.0], [0.0]]]), r"shape \(2, 1\)"),
    (_mutated("biases", [[[0.0], [float("nan")]], [[0.0], [0.0]]]), "NaN"),
    ([1, 2, 3], "JSON object"),
])
def test_load_rejects_malformed_files(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        network2.load(str(path))


def test_load_rejects_non_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\x80not json")
    with pytest.raises(ValueError, match="not a JSON network file"):
        network2.load(path)


# ------------------------------------------------------------- mnist_loader
def _fake_mnist(path, sizes=(20, 6, 5)):
    rng = np.random.default_rng(23)
    parts = tuple((rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)) for n in sizes)
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)
    return parts


def test_mnist_loader_returns_his_formats(tmp_path, monkeypatch):
    parts = _fake_mnist(tmp_path / "mnist.pkl.gz")
    loaded = mnist_loader.load_data(str(tmp_path / "mnist.pkl.gz"))
    assert isinstance(loaded, tuple) and len(loaded) == 3
    for (X, y), (X0, y0) in zip(loaded, parts):
        assert X.dtype == np.float32 and X.shape == X0.shape and y.dtype == np.int64
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0)

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper(tmp_path / "mnist.pkl.gz")
    assert all(type(d) is list for d in (training_data, validation_data, test_data))
    assert [len(d) for d in (training_data, validation_data, test_data)] == [20, 6, 5]
    x, y = training_data[3]
    assert x.shape == (784, 1) and x.dtype == np.float32 and y.shape == (10, 1)
    np.testing.assert_array_equal(x[:, 0], parts[0][0][3])
    np.testing.assert_array_equal(y, mnist_loader.vectorized_result(parts[0][1][3]))
    x, y = test_data[4]
    assert x.shape == (784, 1) and np.ndim(y) == 0 and y == parts[2][1][4]

    src = tmp_path / "src"                                      # his layout: run from src/, data in ../data
    (tmp_path / "data").mkdir()
    src.mkdir()
    os.replace(tmp_path / "mnist.pkl.gz", tmp_path / "data" / "mnist.pkl.gz")
    monkeypatch.chdir(src)
    assert len(mnist_loader.load_data_wrapper()[0]) == 20
    (tmp_path / "a" / "b").mkdir(parents=True)                 # no mnist.pkl.gz at ../data, data/ or .
    monkeypatch.chdir(tmp_path / "a" / "b")
    with pytest.raises(FileNotFoundError, match="mnist.pkl.gz"):
        mnist_loader.load_data()


def test_mnist_loader_refuses_pickles_that_run_code(tmp_path):
    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((os.getcwd, (), ()), f, protocol=2)
    with pytest.raises(ValueError, match="refusing"):
        mnist_loader.load_data(str(path))


# ------------------------------------------------------------ his extensions
def test_subclass_overriding_update_mini_batch_is_called_with_the_same_shuffles(capsys):
    class Counting(network.Network):
        calls = 0

        def update_mini_batch(self, mini_batch, eta):
            Counting.calls += 1
            super().update_mini_batch(mini_batch, eta)

    data = list(his_format(23, n_in=9, seed=24))
    nets = []
    for cls in (Counting, network.Network):
        random.seed(25)
        np.random.seed(25)
        nets.append(cls([9, 5, 10]))
        nets[-1].SGD(data, 2, 5, 3.0, test_data=list(his_format(8, n_in=9, one_hot=False)))
    assert Counting.calls == 2 * 5                              # his loop, calling the override
    assert_layers_close(nets[0].weights, nets[1].weights, RTOL_RUN, "weights")
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == out[2:]


def test_subclass_overriding_cost_derivative_changes_backprop_and_training():
    class Doubled(network.Network):
        def cost_derivative(self, output_activations, y):
            return 2 * (output_activations - y)

    class HisDoubled(HisNetwork):
        def cost_derivative(self, output_activations, y):
            return 2 * (output_activations - y)

    np.random.seed(26)
    net = Doubled([9, 5, 10])
    his = HisDoubled(net.sizes, net.weights, net.biases)
    x, y = np.linspace(0, 1, 9).reshape(9, 1), his_vectorized_result(7)
    assert_layers_close(net.backprop(x, y)[1], his.backprop(x, y)[1], RTOL_STEP, "nabla_w")
    data = list(his_format(12, n_in=9, seed=27))
    random.seed(28)
    net.SGD(data, 2, 5, 1.0)
    his.SGD(data, network.epoch_orders(net.shuffle_seed, 12, 2), 5, 1.0)
    assert_layers_close(net.weights, his.weights, RTOL_RUN, "weights")


def test_bad_data_is_refused_with_a_clear_error():
    net = network.Network([784, 5, 10])
    with pytest.raises(ValueError, match="empty"):
        net.SGD([], 1, 10, 3.0)
    with pytest.raises(ValueError, match="use load_data_wrapper"):
        net.SGD((np.zeros((4, 784)), np.zeros(4, dtype=int)), 1, 10, 3.0)
    with pytest.raises(ValueError, match="784 numbers"):
        net.SGD([(np.zeros((783, 1)), his_vectorized_result(1))], 1, 10, 3.0)
    x = np.zeros((784, 1))
    with pytest.raises(ValueError, match=r"the y of training_data must be labels 0\.\.9 .*got labels from 0 to 10"):
        net.SGD([(x, 0), (x, 10)], 1, 10, 3.0)
    with pytest.raises(ValueError, match=r"the y of test_data must be int labels 0\.\.9 .*such as \[None\]"):
        net.evaluate([(x, None)])
    assert net.evaluate([(x, 3.0)]) in (0, 1)                 # his int(x == y) takes a whole float


def test_stacking_rows_that_are_views_of_one_matrix():
    """mnist_loader hands out (784, 1) views of one matrix: they are gathered in one
    C-level step (no copy at all when in order); anything else takes the general path."""
    import random

    from fastbp.nielsen.network import _stack
    rng = np.random.default_rng(0)
    X = rng.random((50, 6))
    views = [X[i].reshape(6, 1) for i in range(50)]
    stacked = _stack(views, 6, "x")
    assert np.shares_memory(stacked, X) and np.array_equal(stacked, X)
    shuffled = views[:]
    random.Random(0).shuffle(shuffled)
    want = np.concatenate([v.reshape(1, -1) for v in shuffled])
    np.testing.assert_array_equal(_stack(shuffled, 6, "x"), want)
    mixed = views[:49] + [np.array(views[49])]              # one array not from the matrix
    np.testing.assert_array_equal(_stack(mixed, 6, "x"), X)
    X32 = X.astype(np.float32)
    as32 = _stack(list(X32.reshape(50, 6, 1)), 6, "x")
    assert as32.dtype == np.float64 and np.array_equal(as32, X32.astype(np.float64))
    every_other = [X[i].reshape(6, 1) for i in range(0, 50, 2)]
    np.testing.assert_array_equal(_stack(every_other, 6, "x"), X[::2])


@pytest.mark.parametrize("args, match", [
    ((3, 0, 1.0), "mini_batch_size must be >= 1; got 0"),
    ((3, 2, 0.0), "eta must be > 0.0; got 0.0"),
    ((-1, 2, 1.0), "epochs must be >= 0; got -1"),
    ((3, 2.5, 1.0), "mini_batch_size must be an integer"),
])
def test_sgd_names_his_arguments_in_its_errors_and_changes_nothing(args, match, capsys):
    net = network.Network([4, 3, 2])
    weights = [w.copy() for w in net.weights]
    data = list(his_format(6, n_in=4, n_out=2, seed=34))
    with pytest.raises((ValueError, TypeError), match=match):
        net.SGD(data, *args)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, weights))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("targets", [[0, 1, 1, 0], [0.1, 0.9, 0.9, 0.1]])
def test_one_output_takes_a_plain_number_y_as_its_target_as_his_a_minus_y_does(targets, capsys):
    """XOR with one output neuron and y a number per sample: his cost_derivative a - y broadcasts it."""
    xs = [np.array([[a], [b]], dtype=float) for a in (0, 1) for b in (0, 1)]
    data = list(zip(xs, targets))
    random.seed(3)
    np.random.seed(3)
    net = network.Network([2, 3, 1])
    his = his_copy(net)
    net.SGD(data, 5, 2, 3.0, test_data=list(zip(xs, [0, 1, 1, 0])))
    his.SGD(data, network.epoch_orders(net.shuffle_seed, 4, 5), 2, 3.0)
    assert_layers_close(net.weights, his.weights, RTOL_RUN, "weights")
    assert_layers_close(net.biases, his.biases, RTOL_RUN, "biases")
    # his evaluate: argmax of one output is 0, so it counts the samples whose y is 0
    assert capsys.readouterr().out.splitlines()[-1] == "Epoch 4: 2 / 4"
    assert net.evaluate(list(zip(xs, targets))) == his.evaluate(list(zip(xs, targets)))


def test_a_shallow_copy_trains_apart_from_the_original():
    net = network.Network([4, 3, 3])
    before = [w.copy() for w in net.weights]
    clone = copy.copy(net)
    clone.SGD([(np.ones((4, 1)), 0)] * 3, 1, 2, 1.0)
    assert_layers_close(net.weights, before, 0.0, "the original's weights")
    assert not np.array_equal(clone.weights[0], before[0])


def test_a_refused_call_changes_nothing():
    """Malformed data is refused before views detach, the shuffle seed is drawn, or `random` moves."""
    net = network.Network([4, 3, 3])
    w = net.weights[0]
    seed, state = net.shuffle_seed, random.getstate()
    with pytest.raises(ValueError, match="4 numbers"):
        net.update_mini_batch([(np.ones((5, 1)), 0)], 1.0)
    with pytest.raises(ValueError, match="4 numbers"):
        net.SGD([(np.ones((5, 1)), 0)], 1, 1, 1.0)
    assert net.shuffle_seed == seed and random.getstate() == state
    w[0, 0] = 42.0
    assert net.weights[0][0, 0] == 42.0           # the view taken before still reaches the network


def test_errors_name_his_arguments_and_the_item():
    net, net2 = network.Network([4, 3, 3]), network2.Network([4, 3, 3])
    data = [(np.ones((4, 1)), 0)] * 3
    with pytest.raises(ValueError, match=r"the x of training_data contains NaN or infinity \(item 3\)"):
        net.SGD(data + [(np.full((4, 1), np.nan), 0)], 1, 2, 1.0)
    with pytest.raises(ValueError, match=r"the y of training_data contains NaN or infinity \(item 1\)"):
        network.Network([4, 3, 1]).SGD([(np.ones((4, 1)), 0.5), (np.ones((4, 1)), np.inf)], 1, 2, 1.0)
    with pytest.raises(ValueError, match="lmbda must be >= 0"):
        net2.total_cost(data, -1.0)
    with pytest.raises(ValueError, match=r"\(4, k\) columns, k >= 1; got shape \(4, 0\)"):
        net.feedforward(np.ones((4, 0)))
    with pytest.raises(ValueError, match="item 0 is a tuple of length 3"):
        net.SGD([(np.ones((4, 1)), 0, 1)], 1, 1, 1.0)


def test_scoring_no_data_gives_0_as_his_sum_does():
    assert network.Network([4, 3, 3]).evaluate([]) == 0
    assert network2.Network([4, 3, 3]).accuracy([]) == 0
