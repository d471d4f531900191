"""The drop-ins against the code they replace, side by side on 50,000 x 784 data.

    python benchmarks/dropins.py            # about two minutes

- scikit-learn's MLPClassifier vs fastbp.sklearn.MLPClassifier, solver="sgd",
  (30,) hidden units with batch 10 and (100,) with batch 32: seconds per
  epoch (fit with max_iter=3 and tol=0, divided by 3; median of 3 rounds).
- Nielsen's network.py SGD(training_data, 10, 10, 3.0) (his per-sample
  algorithm, float64) vs fastbp.nielsen.network with the same call, ten
  epochs, conversion of his data format included.
"""

import statistics
import time
import warnings

import numpy as np

try:
    from .compare import NielsenNetwork
except ImportError:
    from compare import NielsenNetwork


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def sklearn_rounds(X, y, repeats=3):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as Theirs

    from fastbp.sklearn import MLPClassifier as Ours

    for hidden, batch in (((30,), 10), ((100,), 32)):
        params = dict(hidden_layer_sizes=hidden, solver="sgd", batch_size=batch, max_iter=3, tol=0.0,
                      n_iter_no_change=100, learning_rate_init=0.1, random_state=0)
        Ours(**{**params, "max_iter": 1}).fit(X[:500], y[:500])       # compile outside the timing
        times = {"scikit-learn": [], "fastbp.sklearn": []}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(repeats):
                for key, cls in (("scikit-learn", Theirs), ("fastbp.sklearn", Ours)):
                    model = cls(**params)
                    times[key].append(timed(lambda model=model: model.fit(X, y)) / 3)
        theirs, ours = (statistics.median(times[k]) for k in times)
        print(f"MLPClassifier(hidden_layer_sizes={hidden}, solver='sgd', batch_size={batch}): "
              f"scikit-learn {theirs:.3f} s/epoch, fastbp {ours:.3f} s/epoch, {theirs / ours:.1f}x faster")


def nielsen_round(X, y, epochs=10):
    import random

    import fastbp.nielsen.network as fast_network
    eye = np.eye(10)
    training_data = [(X[i].reshape(784, 1), eye[y[i]].reshape(10, 1)) for i in range(len(X))]
    random.seed(0)
    net = fast_network.Network([784, 30, 10])
    net.SGD(training_data[:100], 1, 10, 3.0)                           # compile outside the timing
    ours = timed(lambda: fast_network.Network([784, 30, 10]).SGD(training_data, epochs, 10, 3.0))
    his = NielsenNetwork([784, 30, 10], np.random.default_rng(0))

    def his_sgd():
        data = list(training_data)
        for _ in range(epochs):
            random.shuffle(data)
            for k in range(0, len(data), 10):
                his.update_mini_batch(data[k:k + 10], 3.0)
    theirs = timed(his_sgd)
    print(f"Nielsen [784, 30, 10] SGD(training_data, {epochs}, 10, 3.0), float64: his network.py {theirs:.1f} s, "
          f"fastbp.nielsen {ours:.2f} s (data conversion included), {theirs / ours:.1f}x faster")


def main():
    rng = np.random.default_rng(0)
    X = rng.random((50_000, 784))
    y = rng.integers(0, 10, 50_000)
    sklearn_rounds(X.astype(np.float32), y)
    nielsen_round(X, y)


if __name__ == "__main__":
    main()
