"""Load fastbp's kernels from numba's cache without numba's whole-target refresh.

Before numba loads any function from its cache, ``Cache.load_overload``
refreshes the target context: it imports and installs every typing and
lowering registry numba has (``numba.np.arraymath`` among them, which
imports ``scipy.linalg`` to probe for BLAS). A first ``fit`` in a fresh
process whose kernels are all cached spent 0.60 of its 0.76 s there
(profiled, [20, 8, 3] float32), against 0.06 s loading the kernels.

Loading compiled code needs none of those registries: they serve typing
and lowering, and every compile refreshes the context itself before it
starts (``numba.core.compiler.CompilerBase``). What a loaded library does
need is numba's runtime linked (``rtsys.initialize``), where the code calls
it (the parallel epoch does, the serial kernels do not), and the helper
symbols numba's context registers when it is made. So for functions
defined in fastbp, ``install`` makes the load initialise the runtime when
the cached code names it, and skip the rest of the refresh. A cache miss
compiles as before, through numba's full refresh; other packages'
functions always take numba's own path.

This replaces private numba code, so it is installed only when the numba
methods it replaces, relies on or skips have the source it was written
against (checked by hash: numba 0.68.1's; ``Cache.load_overload`` itself
has not changed since 0.57); any other numba loads fastbp's kernels its own
way, only slower.
"""

from numba.core import base as _base
from numba.core import caching as _caching
from numba.core import compiler as _compiler
from numba.core import cpu as _cpu
from numba.core.runtime import rtsys as _rtsys

from . import _numba_source

#: sha256 prefixes of the sources this module replaces (load_overload),
#: repeats the steps of (_load_overload) or calls (the compile result's
#: rebuild), and skips (refresh, and the registry loading that also
#: initialises the runtime).
KNOWN_SOURCES = {
    "Cache.load_overload": "49a98e578d710b9b",
    "Cache._load_overload": "8cb8c1d9749fda3d",
    "CompileResult._rebuild": "44fa9dc2255883ab",
    "BaseContext.refresh": "83e8f5cc63a7fee8",
    "CPUContext.load_additional_registries": "0383d5716d370fa9",
}
_OWNERS = {"Cache": _caching.Cache, "CompileResult": _compiler.CompileResult, "BaseContext": _base.BaseContext,
           "CPUContext": _cpu.CPUContext}

#: numba's methods as imported (before install() replaces load_overload).
_STOCK = _numba_source.stock(_OWNERS, KNOWN_SOURCES)
_stock_load_overload = _STOCK["Cache.load_overload"]


def numba_matches():
    """True if numba's cache loading is the one this module was written against."""
    return (_numba_source.matches(_STOCK, KNOWN_SOURCES)
            and hasattr(_caching.Cache, "_guard_against_spurious_io_errors"))


def installed():
    """True if ``install`` replaced numba's ``Cache.load_overload``."""
    return _caching.Cache.load_overload is _load_overload


def install():
    """Make loads of fastbp's cached kernels skip numba's registry refresh.

    Idempotent; returns ``installed()``."""
    if not installed() and numba_matches():
        _caching.Cache.load_overload = _load_overload
    return installed()


def uninstall():
    """Restore numba's own ``Cache.load_overload`` (for tests)."""
    if installed():
        _caching.Cache.load_overload = _stock_load_overload


def _load_overload(self, sig, target_context):
    """``Cache.load_overload``: fastbp's functions load without the refresh."""
    if not _numba_source.is_fastbp(getattr(self, "_py_func", None)):
        return _stock_load_overload(self, sig, target_context)
    with self._guard_against_spurious_io_errors():
        # numba's Cache._load_overload, with the runtime linked first where the code uses it
        if not self._enabled:
            return None
        data = self._cache_file.load(self._index_key(sig, target_context.codegen()))
        if data is None:
            return None
        if _uses_runtime(data):
            _rtsys.initialize(target_context)
        return self._impl.rebuild(target_context, data)
    # None returned if the `with` block swallows an exception (as numba's)


def _uses_runtime(cached):
    """True if the cached compile result's machine code or bitcode names any
    of numba's runtime symbols (``NRT_*``, ``nrt_*``, ``_nrt_*``; they are
    plain strings in both).

    Initialising the runtime compiles its LLVM module, 0.05 s; fastbp's
    serial kernels are compiled without it (``_config.JIT``) and never need
    it, the parallel epoch does. Any mention counts, so a kernel that might
    call the runtime always has it."""
    if isinstance(cached, (bytes, bytearray)):
        return b"NRT_" in cached or b"nrt_" in cached
    if isinstance(cached, (tuple, list)):
        return any(_uses_runtime(item) for item in cached)
    return False
