"""Integer codes for activations and costs, shared by Python and the kernels.

Kernels dispatch on these small integers rather than taking functions as
arguments, so one compiled specialisation per dtype serves every network.
"""

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
SOFTMAX = 5
EXP = 6         # output layers only: positive outputs, e.g. Poisson rates

QUADRATIC = 0
CROSS_ENTROPY = 1
LOG_LIKELIHOOD = 2
POISSON = 3

ACTIVATIONS = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "softmax": SOFTMAX,
    "exp": EXP,
}
HIDDEN_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUT_ACTIVATIONS = tuple(ACTIVATIONS)

COSTS = {
    "quadratic": QUADRATIC,
    "cross_entropy": CROSS_ENTROPY,
    "log_likelihood": LOG_LIKELIHOOD,
    "poisson": POISSON,
}

#: Output activations each cost is defined for. Cross-entropy needs outputs in
#: (0, 1) per unit; the log-likelihood needs a probability distribution; the
#: Poisson deviance a positive rate a = e^z (its canonical link).
COST_OUTPUTS = {
    "quadratic": OUTPUT_ACTIVATIONS,
    "cross_entropy": ("sigmoid",),
    "log_likelihood": ("softmax",),
    "poisson": ("exp",),
}

# Columns of the int64 layer table shared by all kernels (one row per layer).
W_OFF = 0      # offset of W (n_out x n_in, row-major) in the flat buffer
B_OFF = 1      # offset of b (n_out) in the flat buffer
N_IN = 2
N_OUT = 3
UNIT_OFF = 4   # sum of n_out of the layers before: offset in the work buffers
LAYOUT_COLUMNS = 5

# Optimizers (update rules on the flat buffer).
SGD = 0
MOMENTUM = 1
NESTEROV = 2
ADAM = 3

# Slots of the float64 hyperparameter vector handed to the epoch kernel.
H_LR = 0        # learning rate η of this epoch
H_L2 = 1        # λ2 / n: L2 gradient coefficient
H_L1 = 2        # λ1 / n: L1 gradient coefficient
H_MU = 3        # momentum μ
H_BETA1 = 4
H_BETA2 = 5
H_EPS = 6
H_KEEP = 7      # dropout keep probability 1 - p (1 = no dropout)
N_HYPER = 8
