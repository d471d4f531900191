"""Holding BLAS thread pools at a count for the length of a fit, cheaply.

threadpoolctl's ``threadpool_limits`` looks for the loaded BLAS libraries
anew on every call (it walks the process's shared objects): 0.4-0.9 ms,
most of a small ``fit`` call (8 samples: 1.15 ms in all before, 0.21 ms
after), paid again by every call of a ``partial_fit`` loop. A controller
(threadpoolctl's record of the libraries found) is therefore kept and
reused while no module has been imported since it was made; an import can
load another BLAS (importing ``scipy.linalg`` loads scipy's OpenBLAS), so
after one the libraries are looked for again. Limiting through a kept
controller takes 0.01 ms.
"""

import sys

#: [controller, len(sys.modules) when it was made]
_kept = [None, -1]


def limited(threads):
    """A context manager inside which every loaded BLAS library runs on
    ``threads`` threads (int), or as it is (None); restored on exit."""
    if _kept[0] is None or _kept[1] != len(sys.modules):
        from threadpoolctl import ThreadpoolController
        _kept[0] = ThreadpoolController()
        _kept[1] = len(sys.modules)
    return _kept[0].limit(limits=threads, user_api="blas")
