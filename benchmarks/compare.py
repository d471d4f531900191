"""Side-by-side epoch times: fastbp against what a user would pick today.

Runs, interleaved in one process on the same data (50,000 x 784, MNIST-shaped),
one epoch of mini-batch SGD for each implementation and workload, repeats
the round, and prints the median epoch seconds and each one's ratio to
fastbp float32, plus the FLOP-bound limit: the workload's multiply-adds at
the rate of a large single-threaded float32 matrix product on this machine.

    python benchmarks/compare.py                    # W1-W3, every implementation found
    python benchmarks/compare.py --workloads W1 --repeats 5
    python benchmarks/compare.py --only fastbp-f32,fastbp-f64,nielsen

Implementations: fastbp (float32, float64), numpy-gemms (only the epoch's
matrix products, float32, called from numpy at the same shapes: the BLAS
bound), the numpy reference
(``fastbp.reference.sgd_epoch``: the whole mini-batch as a matrix), Nielsen's
network.py loop (one sample at a time, W1 only: it is sigmoid/quadratic), and
when installed scikit-learn's MLPClassifier (solver="sgd", momentum=0,
alpha=0; softmax/log-loss output, the closest it offers) and PyTorch eager
(torch.nn + torch.optim.SGD).
"""

import argparse
import math
import platform
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import fastbp
from fastbp import reference

try:                    # imported by asv as part of the benchmarks package
    from .common import N_FEATURES, N_SAMPLES, WORKLOADS
except ImportError:     # run as a script: python benchmarks/compare.py
    from common import N_FEATURES, N_SAMPLES, WORKLOADS


def workload_flops(sizes, n_samples=N_SAMPLES):
    """Floating-point operations of one epoch: forward, weight gradient, and the
    back-propagated error for every layer but the first (2 flops per multiply-add)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    per_sample = sum(4 * a * b for a, b in pairs) + sum(2 * a * b for a, b in pairs[1:])
    return per_sample * n_samples


def gemm_rate(dtype=np.float32, n=2048):
    """GFLOP/s of one large single-threaded matrix product (median of 5)."""
    a = np.random.default_rng(0).random((n, n)).astype(dtype)
    with threadpool_limits(1):
        a @ a
        times = []
        for _ in range(5):
            t = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


# ---------------------------------------------------------------- implementations
def fastbp_runner(spec, X, y, dtype):
    net = fastbp.Network(spec["sizes"], hidden_activation=spec["hidden"], output_activation=spec["output"],
                         cost=spec["cost"], dtype=dtype, seed=0)
    Xd = X.astype(dtype)
    net.fit(Xd[:100], y[:100], epochs=1, batch_size=spec["batch_size"], learning_rate=1e-3)  # compile

    def epoch():
        net.fit(Xd, y, epochs=1, batch_size=spec["batch_size"], learning_rate=spec["learning_rate"])
    return epoch


def numpy_runner(spec, X, y, dtype=np.float32):
    rng = np.random.default_rng(0)
    sizes = spec["sizes"]
    weights = [(rng.standard_normal((o, i)) / np.sqrt(i)).astype(dtype) for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(o).astype(dtype) for o in sizes[1:]]
    acts = [spec["hidden"]] * (len(sizes) - 2) + [spec["output"]]
    Xd = X.astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[y]

    def epoch():
        reference.sgd_epoch(weights, biases, Xd, Y, acts, spec["cost"], rng.permutation(len(Xd)),
                            spec["batch_size"], spec["learning_rate"])
    return epoch


class NielsenNetwork:
    """network.py from Nielsen's book, ported to Python 3: one sample at a time."""

    def __init__(self, sizes, rng):
        self.num_layers = len(sizes)
        self.biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n, m)) / np.sqrt(m) for m, n in zip(sizes[:-1], sizes[1:])]

    @staticmethod
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def sigmoid_prime(self, z):
        return self.sigmoid(z) * (1 - self.sigmoid(z))

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
            activation = self.sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * self.sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * self.sigmoid_prime(zs[-layer])
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w


def nielsen_runner(spec, X, y):
    rng = np.random.default_rng(0)
    net = NielsenNetwork(spec["sizes"], rng)
    eye = np.eye(spec["sizes"][-1])
    data = [(X[i].reshape(-1, 1), eye[y[i]].reshape(-1, 1)) for i in range(len(X))]
    order = list(range(len(data)))

    def epoch():
        rng.shuffle(order)
        shuffled = [data[i] for i in order]
        for k in range(0, len(shuffled), spec["batch_size"]):
            net.update_mini_batch(shuffled[k:k + spec["batch_size"]], spec["learning_rate"])
    return epoch


def sklearn_runner(spec, X, y):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    activation = {"sigmoid": "logistic", "relu": "relu", "tanh": "tanh"}[spec["hidden"]]
    clf = MLPClassifier(hidden_layer_sizes=tuple(spec["sizes"][1:-1]), activation=activation, solver="sgd",
                        batch_size=spec["batch_size"], learning_rate_init=min(spec["learning_rate"], 0.5),
                        momentum=0.0, alpha=0.0, max_iter=1, shuffle=True, random_state=0, tol=0.0)
    Xd = X.astype(np.float32)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xd, y)
    return epoch


def torch_runner(spec, X, y):
    import torch

    torch.manual_seed(0)
    sizes = spec["sizes"]
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[spec["hidden"]]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if spec["output"] == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=spec["learning_rate"])
    Xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    Yt = torch.nn.functional.one_hot(yt, sizes[-1]).float()
    quadratic = spec["cost"] == "quadratic"
    bs = spec["batch_size"]

    def epoch():
        perm = torch.randperm(len(Xt))
        for k in range(0, len(Xt), bs):
            idx = perm[k:k + bs]
            out = model(Xt[idx])
            if quadratic:
                loss = 0.5 * ((out - Yt[idx]) ** 2).sum(dim=1).mean()
            else:
                loss = torch.nn.functional.cross_entropy(out, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return epoch


def gemm_runner(spec, X, y, dtype=np.float32):
    """Only the epoch's matrix products, from numpy into preallocated outputs:
    per mini-batch the forward products, the weight gradients and the
    back-propagated errors at the workload's shapes. The BLAS-bound reference."""
    rng = np.random.default_rng(0)
    sizes, batch = spec["sizes"], spec["batch_size"]
    weights = [rng.random((o, i)).astype(dtype) for i, o in zip(sizes[:-1], sizes[1:])]
    acts = [np.zeros((batch, n), dtype) for n in sizes]
    deltas = [np.zeros((batch, n), dtype) for n in sizes]
    grads = [np.zeros_like(w) for w in weights]
    Xd = X.astype(dtype)

    def epoch():
        for start in range(0, len(Xd) - batch + 1, batch):
            acts[0][...] = Xd[start:start + batch]
            for layer, W in enumerate(weights):
                np.matmul(acts[layer], W.T, out=acts[layer + 1])
            for layer in range(len(weights) - 1, -1, -1):
                np.matmul(deltas[layer + 1].T, acts[layer], out=grads[layer])
                if layer > 0:
                    np.matmul(deltas[layer + 1], weights[layer], out=deltas[layer])
    return epoch


def implementations(workload, only):
    impls = {
        "fastbp-f32": lambda s, X, y: fastbp_runner(s, X, y, np.float32),
        "fastbp-f64": lambda s, X, y: fastbp_runner(s, X, y, np.float64),
        "numpy-batch": numpy_runner,
        "numpy-gemms": gemm_runner,
    }
    if workload == "W1":
        impls["nielsen"] = nielsen_runner
    try:
        import sklearn  # noqa: F401
        impls["scikit-learn"] = sklearn_runner
    except ImportError:
        pass
    try:
        import torch  # noqa: F401
        impls["pytorch"] = torch_runner
    except ImportError:
        pass
    return {k: v for k, v in impls.items() if not only or k in only}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W1,W2,W3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated implementation names")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))

    rng = np.random.default_rng(0)
    X = rng.random((N_SAMPLES, N_FEATURES))
    y = rng.integers(0, 10, N_SAMPLES)
    blas = ", ".join(sorted({f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                             for i in threadpool_info()}))
    rate = gemm_rate()
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}, BLAS: {blas}")
    print(f"float32 GEMM, 1 thread: {rate:.0f} GFLOP/s; {N_SAMPLES} x {N_FEATURES} samples; "
          f"median of {args.repeats} interleaved epochs\n")

    for name in args.workloads.split(","):
        spec = WORKLOADS[name]
        runners = {impl: make(spec, X, y) for impl, make in implementations(name, only).items()}
        times = {impl: [] for impl in runners}
        for _ in range(args.repeats):
            for impl, epoch in runners.items():
                t = time.perf_counter()
                epoch()
                times[impl].append(time.perf_counter() - t)
        bound = workload_flops(spec["sizes"]) / (rate * 1e9)
        base = statistics.median(times["fastbp-f32"]) if "fastbp-f32" in times else math.nan
        print(f"{name}: {spec['sizes']}, {spec['hidden']} + {spec['output']}/{spec['cost']}, "
              f"batch {spec['batch_size']}")
        print(f"  {'implementation':14s} {'s/epoch':>9s} {'x fastbp-f32':>13s}")
        for impl, ts in times.items():
            med = statistics.median(ts)
            print(f"  {impl:14s} {med:9.3f} {med / base:13.2f}")
        print(f"  {'FLOP bound 1t':14s} {bound:9.3f} {bound / base:13.2f}\n")


if __name__ == "__main__":
    main()
