"""fastbp.gradcheck: compiled gradients against finite differences and the numpy reference."""

import re

import numpy as np
import pytest

import fastbp
from fastbp.gradcheck import GradientCheck, as_float64, check_gradient, gradcheck

from conftest import HIDDEN, PAIRINGS

# Tolerance of the checks below. Central differences with h = 1e-6 resolve a
# derivative to about 2e-10·|C| in float64, and gradcheck's relative-error floor
# turns that into errors of about 1e-7 or less; a wrong formula gives 1e-3 or more.
TOL = 1e-6


def _rows(text):
    """Rows of the per-layer table in str(result)."""
    return [line for line in text.splitlines() if re.match(r"^\s+\d+\s+\d+\s+\d+\s+\d+\s", line)]


@pytest.mark.parametrize("cost,output", PAIRINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_pairing_passes_in_float64(hidden, cost, output):
    result = gradcheck([3, 5, 4, 3], hidden_activation=hidden, output_activation=output, cost=cost,
                       n_samples=6, seed=1, l2=0.3)
    assert isinstance(result, GradientCheck)
    assert result.passed(TOL), str(result)
    assert result.near_kinks == 0             # gradcheck redraws data near ReLU kinks
    assert result.n_checked == result.n_parameters == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    assert [(l["layer"], l["n_in"], l["n_out"]) for l in result.layers] == [(1, 3, 5), (2, 5, 4), (3, 4, 3)]
    assert result.norm_ratio_reference < 1e-12    # two analytic gradients: rounding only
    assert result.dtype == "float64"


@pytest.mark.parametrize("hidden,output,cost", [("relu", "softmax", "log_likelihood"),
                                                ("tanh", "sigmoid", "cross_entropy"),
                                                ("leaky_relu", "identity", "quadratic")])
def test_l1_and_l2_pass(hidden, output, cost):
    result = gradcheck([4, 6, 3], hidden, output, cost, n_samples=5, seed=3, l2=0.5, l1=0.2)
    assert result.passed(TOL), str(result)


def test_single_sample_and_single_output():
    assert gradcheck([2, 3, 1], "tanh", "sigmoid", "cross_entropy", n_samples=1).passed(TOL)
    with pytest.raises(ValueError, match="n_samples"):
        gradcheck([2, 3, 1], n_samples=0)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    net = fastbp.Network([4, 6, 5, 3], hidden_activation="tanh", output_activation="softmax",
                         cost="log_likelihood", seed=0)
    return net, rng.normal(size=(7, 4)), rng.integers(0, 3, 7)


def test_a_wrong_gradient_is_caught(problem, monkeypatch):
    net, X, y = problem
    right = net.gradient
    assert check_gradient(net, X, y, l2=0.1).passed(TOL)
    monkeypatch.setattr(net, "gradient", lambda *args, **kwargs: right(*args, **kwargs) * 1.01)
    result = check_gradient(net, X, y, l2=0.1)
    assert not result.passed(TOL)
    assert not result.passed()                   # the default tolerance is 1e-6 too
    # 1 % off: |1.01g - g| / (2.01|g|) = 0.004975 for every entry above the floor.
    assert result.norm_ratio_fd == pytest.approx(0.01 / 2.01, rel=1e-3)
    assert result.norm_ratio_reference == pytest.approx(0.01 / 2.01, rel=1e-6)
    for layer in result.layers:
        assert 1e-3 < layer["max_rel_error_fd"] <= 0.01 / 2.01 * (1 + 1e-3)
        assert 1e-3 < layer["max_rel_error_reference"] <= 0.01 / 2.01 * (1 + 1e-6)
    assert "FAILED" in str(result)


def test_the_wrong_layer_is_pointed_out(problem, monkeypatch):
    net, X, y = problem
    right = net.gradient

    def wrong_output_biases(*args, **kwargs):
        g = right(*args, **kwargs).copy()
        g[net._layout[2, 1]:] += 1e-4          # b of the last layer only
        return g

    monkeypatch.setattr(net, "gradient", wrong_output_biases)
    result = check_gradient(net, X, y)
    first, second, third = result.layers
    assert first["max_rel_error_fd"] < TOL and second["max_rel_error_fd"] < TOL
    assert first["max_rel_error_reference"] < TOL and second["max_rel_error_reference"] < TOL
    # 1e-4 on output-bias gradients of order 0.1: relative errors of order 1e-3.
    assert third["max_rel_error_fd"] > 1e-4 and third["max_rel_error_reference"] > 1e-4
    assert not result.passed(TOL)


def test_the_network_is_not_modified(problem):
    net, X, y = problem
    before = net.parameters.copy()
    check_gradient(net, X, y, l2=1.0, l1=1.0)
    np.testing.assert_array_equal(net.parameters, before)


def test_max_parameters_checks_a_subset_with_every_layer(problem):
    net, X, y = problem
    result = check_gradient(net, X, y, max_parameters=12, seed=5)
    assert result.n_checked == 12 and result.n_parameters == net.n_parameters == 4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3
    assert sum(l["n_checked"] for l in result.layers) == 12
    assert all(l["n_checked"] >= 1 for l in result.layers)
    assert result.passed(TOL), str(result)
    again = check_gradient(net, X, y, max_parameters=12, seed=5)
    np.testing.assert_array_equal(again._errors["indices"], result._errors["indices"])
    other = check_gradient(net, X, y, max_parameters=12, seed=6)
    assert not np.array_equal(other._errors["indices"], result._errors["indices"])
    # A budget smaller than the number of layers leaves a layer unchecked.
    tiny = check_gradient(net, X, y, max_parameters=2)
    assert [l["n_checked"] for l in tiny.layers] == [1, 1, 0]
    assert tiny.layers[2]["max_rel_error_fd"] is None and tiny.passed(TOL)
    assert len(_rows(str(tiny))) == 3
    # More than there are: all of them.
    assert check_gradient(net, X, y, max_parameters=10**6).n_checked == net.n_parameters
    with pytest.raises(ValueError, match="max_parameters"):
        check_gradient(net, X, y, max_parameters=0)


def test_float32_network_through_as_float64():
    rng = np.random.default_rng(2)
    net32 = fastbp.Network([5, 7, 4], hidden_activation="leaky_relu", output_activation="sigmoid",
                           cost="cross_entropy", dtype=np.float32, seed=2, leaky_slope=0.2)
    X, y = rng.normal(size=(6, 5)), rng.random((6, 4))
    net64 = as_float64(net32)
    assert net64.dtype == np.float64 and net64.parameters.dtype == np.float64
    assert (net64.sizes, net64.activations, net64.cost_name, net64.leaky_slope) == \
        (net32.sizes, net32.activations, net32.cost_name, 0.2)
    np.testing.assert_array_equal(net64.parameters, net32.parameters.astype(np.float64))
    assert not np.shares_memory(net64.parameters, net32.parameters)
    np.testing.assert_allclose(net64.feedforward(X), net32.feedforward(X), rtol=1e-5, atol=1e-6)

    result = check_gradient(net64, X, y, l2=0.2)
    assert result.passed(TOL), str(result)
    # The float32 network's own gradient carries float32 rounding: it passes a
    # float32-sized tolerance (eps32 = 1.2e-7), not necessarily 1e-6.
    loose = check_gradient(net32, X, y, l2=0.2)
    assert loose.dtype == "float32"
    assert loose.passed(1e-3), str(loose)


def test_near_kinks_are_counted():
    net = fastbp.Network([2, 3, 1], hidden_activation="relu", output_activation="identity", seed=0)
    X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.3, 0.8]])
    y = np.array([[0.1], [0.2], [0.3]])
    net.biases[0][1] = -(X[0] @ net.weights[0][1])         # z of unit 2 is exactly 0 on sample 0
    result = check_gradient(net, X, y)
    assert result.near_kinks >= 1
    assert "kink" in str(result)


def test_str_has_one_row_per_layer(problem):
    net, X, y = problem
    result = check_gradient(net, X, y)
    text = str(result)
    rows = _rows(text)
    assert len(rows) == 3
    for row, layer in zip(rows, result.layers):
        fields = row.split()
        assert [int(f) for f in fields[:4]] == [layer["layer"], layer["n_in"], layer["n_out"], layer["n_checked"]]
        assert float(fields[4]) == pytest.approx(layer["max_rel_error_fd"], rel=0.01)
    assert "norm ratio" in text and "passed" in text and repr(net) in text


def test_bad_arguments(problem):
    net, X, y = problem
    with pytest.raises(TypeError, match="fastbp.Network"):
        check_gradient("net", X, y)
    with pytest.raises(ValueError, match="eps"):
        check_gradient(net, X, y, eps=0.0)
    with pytest.raises(TypeError, match="eps must be a real number; got 'a'"):
        check_gradient(net, X, y, eps="a")
    with pytest.raises(TypeError, match="max_parameters must be an integer"):
        check_gradient(net, X, y, max_parameters=1.5)      # was truncated to 1
    with pytest.raises(ValueError):
        check_gradient(net, X[:, :3], y)                   # wrong number of features, from net.gradient
