"""numba-compiled kernels. They trust their input: callers validate first.

Every array is C-contiguous and of the network's float dtype (index arrays
int64); scalars that mix with array elements are of that dtype too, so a
float32 network computes in float32 throughout (costs are summed in float64).
"""

from .. import _numba_hooks
from . import _cache, activations, costs, dense, epoch, fpu, parallel, propagate, update, vexp
from .activations import activate_rows, derivative_at, scale_by_derivative
from .costs import cost_of, output_delta
from .dense import dense_backward_delta, dense_backward_params, dense_forward
from .epoch import train_epoch
from .parallel import train_epoch_parallel
from .propagate import (
    NO_MASK,
    accumulate_gradient,
    apply_dropout,
    count_correct,
    evaluate,
    feedforward,
    forward,
    full_gradient,
    sgd_backward,
)
from .update import optimizer_step, regularised_gradient

# every cached kernel depends on the source of all of them (see _cache.py)
_cache.stamp_caches([activations, costs, dense, epoch, fpu, parallel, propagate, update, vexp])
# kernels compile (or load) lazily, on first call: this comes before any of them does
_numba_hooks.install()

__all__ = [
    "NO_MASK", "accumulate_gradient", "apply_dropout", "activate_rows", "derivative_at", "cost_of", "count_correct",
    "dense_backward_delta", "dense_backward_params", "dense_forward", "evaluate",
    "feedforward", "forward", "full_gradient", "sgd_backward",
    "optimizer_step", "output_delta", "regularised_gradient", "scale_by_derivative",
    "train_epoch", "train_epoch_parallel",
]
