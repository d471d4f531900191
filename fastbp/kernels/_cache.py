"""Tie every kernel's numba cache entry to the source of *all* kernels.

numba validates a cached function against its own source file only. A
kernel that calls a function from another file (epoch.py calling dense.py)
would load stale machine code after that other file changed — the wrong
arity or buffer layout, silently. Stamping every cache entry with a hash of
the whole kernel package (and the compile options in _config.py) makes any
change recompile everything that could depend on it.
"""

import hashlib
import pathlib

from numba.core.registry import CPUDispatcher

_PACKAGE = pathlib.Path(__file__).resolve().parent


def package_stamp():
    """sha256 over the kernel sources, the compile configuration and the BLAS
    route kernels call (kernels/blas.py: its symbols and integer width)."""
    from .blas import PROVIDER

    digest = hashlib.sha256(PROVIDER.encode())
    for path in sorted(_PACKAGE.glob("*.py")) + [_PACKAGE.parent / "_config.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stamp_caches(modules):
    """Add the package stamp to the cache stamp of every dispatcher in ``modules``.

    Uses numba's private cache-file attribute; if a numba version lacks it,
    kernels keep numba's own per-file invalidation (nothing breaks).
    """
    stamp = package_stamp()
    for module in modules:
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                cache_file = getattr(getattr(obj, "_cache", None), "_cache_file", None)
                if cache_file is not None and hasattr(cache_file, "_source_stamp"):
                    cache_file._source_stamp = (cache_file._source_stamp, stamp)
