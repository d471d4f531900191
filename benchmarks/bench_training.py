"""Epoch time, prediction throughput, the numpy reference, peak memory, a fit call's fixed cost and accuracy."""

import numpy as np

import fastbp
from fastbp import reference
from fastbp.datasets import load_digits, train_test_split

from .common import WORKLOADS, mnist_shaped, network, threading


class Epoch:
    """One training epoch over 50,000 x 784 samples (W1-W3 of the issue)."""

    params = (["W1", "W2", "W3"], ["float32", "float64"], ["serial", "threads2"])
    param_names = ["workload", "dtype", "threads"]
    timeout = 600

    def setup(self, workload, dtype, mode):
        self.X, self.y = mnist_shaped(dtype)
        self.spec = WORKLOADS[workload]
        self.options = threading(workload, mode)
        self.net = network(workload, dtype)
        # compile (or load from numba's cache) outside the timing
        self.net.fit(self.X[:512], self.y[:512], epochs=1, batch_size=self.spec["batch_size"],
                     learning_rate=1e-3, **self.options)

    def time_epoch(self, workload, dtype, mode):
        self.net.fit(self.X, self.y, epochs=1, batch_size=self.spec["batch_size"],
                     learning_rate=self.spec["learning_rate"], **self.options)


class Predict:
    """Forward-pass throughput: predictions for 10,000 samples."""

    params = (["W1", "W3"], ["float32", "float64"])
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        self.X, _ = mnist_shaped(dtype)
        self.X = self.X[:10_000]
        self.net = network(workload, dtype)
        self.net.predict(self.X[:10])

    def time_predict(self, workload, dtype):
        self.net.predict(self.X)


class Reference:
    """The plain-numpy reference epoch on W1, for the compiled/numpy speed-up."""

    params = (["float32", "float64"],)
    param_names = ["dtype"]
    timeout = 600

    def setup(self, dtype):
        self.X, y = mnist_shaped(dtype)
        self.Y = np.eye(10, dtype=dtype)[y]
        net = network("W1", dtype)
        self.weights = [w.copy() for w in net.weights]
        self.biases = [b.copy() for b in net.biases]
        self.order = np.random.default_rng(0).permutation(len(self.X))

    def time_reference_epoch(self, dtype):
        reference.sgd_epoch(self.weights, self.biases, self.X, self.Y, ["sigmoid", "sigmoid"], "quadratic",
                            self.order, 10, 3.0)


class Memory:
    """Peak memory of fit: the data, 4x the parameters, the work buffers and
    a few MB; it must not grow with the number of epochs."""

    params = ([1, 5],)
    param_names = ["epochs"]

    def setup(self, epochs):
        self.X, self.y = mnist_shaped("float32")
        self.net = network("W2", "float32")
        self.net.fit(self.X[:512], self.y[:512], epochs=1, batch_size=32)

    def peakmem_fit(self, epochs):
        self.net.fit(self.X, self.y, epochs=epochs, batch_size=32, learning_rate=0.5)


class Checkpoint:
    """One epoch of a small network checkpointed after every epoch, with a short and a long
    history behind it: the save rewrites every epoch record, and its cost must stay near that
    of writing the file (each record is encoded once, not at every save)."""

    params = ([10, 3000],)
    param_names = ["epochs_before"]

    def setup(self, epochs_before):
        import tempfile
        self.path = tempfile.mkdtemp(prefix="fastbp-asv-ckpt-") + "/ckpt.npz"
        rng = np.random.default_rng(0)
        self.X = rng.random((200, 4))
        self.y = (self.X.sum(axis=1) > 2).astype(np.int64)
        self.net = fastbp.Network([4, 5, 2], seed=0)
        self.net.fit(self.X, self.y, epochs=epochs_before, batch_size=10, learning_rate=0.5)
        self.net.save(self.path)        # as the checkpoint after the last of those epochs would

    def time_checkpointed_epoch(self, epochs_before):
        self.net.fit(self.X, self.y, epochs=1, batch_size=10, learning_rate=0.5, checkpoint=self.path)


class SmallFit:
    """The fixed cost of fit calls: 50 calls of 1 epoch of one 8-row
    mini-batch on [20, 8, 3] float32, as a partial_fit loop pays it per batch
    (validation, the kernel call, the thread limits, the history record).
    Fifty calls in one sample, because ``--quick`` times a single call, and
    the first call after asv's own imports looks for the BLAS libraries
    again (fastbp/_blas_threads.py)."""

    CALLS = 50

    def setup(self):
        rng = np.random.default_rng(0)
        self.X = rng.random((8, 20)).astype(np.float32)
        self.y = np.arange(8) % 3
        self.net = fastbp.Network([20, 8, 3], dtype="float32", seed=0)
        self.net.fit(self.X, self.y, epochs=1, batch_size=8)

    def time_fit_calls(self):
        for _ in range(self.CALLS):
            self.net.fit(self.X, self.y, epochs=1, batch_size=8)


class Accuracy:
    """Held-out accuracy after a fixed budget: a speed-up that breaks learning shows here."""

    timeout = 300

    def setup(self):
        X, y = load_digits()
        self.split = train_test_split(X, y, test_fraction=0.25, seed=0)

    def track_digits_sgd_accuracy(self):
        X, y, Xt, yt = self.split
        net = fastbp.Network([64, 30, 10], seed=0)
        net.fit(X, y, epochs=30, batch_size=10, learning_rate=3.0)
        return net.evaluate(Xt, yt)["accuracy"]

    def track_digits_adam_parallel_accuracy(self):
        X, y, Xt, yt = self.split
        net = fastbp.Network([64, 100, 10], output_activation="softmax", cost="log_likelihood", seed=0)
        net.fit(X, y, epochs=20, batch_size=32, learning_rate=1e-2, optimizer="adam", parallel=True)
        return net.evaluate(Xt, yt)["accuracy"]

    track_digits_sgd_accuracy.unit = "accuracy"
    track_digits_adam_parallel_accuracy.unit = "accuracy"
