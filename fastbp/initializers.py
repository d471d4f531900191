"""Initial weights and biases, drawn from the network's seeded Generator.

Every initializer draws in float64 and the network casts once, so a float32
and a float64 network built with the same seed start from the same numbers
(to float32 rounding).
"""

import numpy as np

__all__ = ["INITIALIZERS", "draw"]


def _nielsen(rng, n_in, n_out):
    # network2.default_weight_initializer: W ~ N(0, 1/n_in), b ~ N(0, 1).
    b = rng.standard_normal(n_out)
    return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), b


def _large(rng, n_in, n_out):
    # network.py / network2.large_weight_initializer: everything N(0, 1).
    b = rng.standard_normal(n_out)
    return rng.standard_normal((n_out, n_in)), b


def _uniform(rng, n_in, n_out, epsilon=0.12):
    # Ng's randInitializeWeights: U(-ε, ε) for weights and the bias column alike.
    b = rng.uniform(-epsilon, epsilon, n_out)
    return rng.uniform(-epsilon, epsilon, (n_out, n_in)), b


def _glorot_normal(rng, n_in, n_out):
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), (n_out, n_in)), np.zeros(n_out)


def _glorot_uniform(rng, n_in, n_out):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_out)


def _he_normal(rng, n_in, n_out):
    return rng.normal(0.0, np.sqrt(2.0 / n_in), (n_out, n_in)), np.zeros(n_out)


def _he_uniform(rng, n_in, n_out):
    limit = np.sqrt(6.0 / n_in)
    return rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_out)


def _zeros(rng, n_in, n_out):
    # Shows the symmetry problem: every hidden unit stays identical.
    return np.zeros((n_out, n_in)), np.zeros(n_out)


INITIALIZERS = {
    "nielsen": _nielsen,
    "large": _large,
    "uniform": _uniform,
    "glorot_normal": _glorot_normal,
    "glorot_uniform": _glorot_uniform,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "zeros": _zeros,
}


def draw(name, rng, weights, biases):
    """Fill the per-layer views ``weights`` (n_out, n_in) and ``biases`` in place."""
    fill = INITIALIZERS[name]
    for W, b in zip(weights, biases):
        n_out, n_in = W.shape
        new_w, new_b = fill(rng, n_in, n_out)
        W[...] = new_w
        b[...] = new_b
