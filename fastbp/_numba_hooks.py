"""When fastbp's two patches to numba's private code are installed.

- ``_cache_load`` (loading cached kernels without numba's registry refresh)
  is installed at import: the first fit of a process whose kernels are
  cached needs it before its first kernel call.
- ``_numba_inline`` (the faster inliner) only matters to a compile, and
  importing it imports numba's inliner and reads the source it checks
  (about 0.05 s), so it is installed when numba starts its first compile
  in the process, before that compile's pipeline runs: a process that
  only loads cached kernels never pays for it.
"""

import warnings

from numba.core import event as _event

from . import _cache_load


class _InlinerOnFirstCompile(_event.Listener):
    """Installs ``_numba_inline`` at the start of numba's first compile."""

    registered = False
    done = False

    def on_start(self, event):
        if not self.done:
            self.done = True
            # This runs inside whatever compile comes first, the user's own
            # code's too: a failure here must leave numba's inliner working.
            try:
                from . import _numba_inline
                _numba_inline.install_unless_uninstalled()
            except Exception as error:     # noqa: BLE001 - numba's inliner stays, which is correct
                warnings.warn(f"fastbp: numba's own inliner stays in place ({error!r})", RuntimeWarning,
                              stacklevel=2)

    def on_end(self, event):
        pass


_listener = _InlinerOnFirstCompile()


def install():
    """Install the cache-load patch now and the inliner at the first compile.

    Idempotent."""
    _cache_load.install()
    if not _listener.registered:
        _listener.registered = True
        _event.register("numba:compile", _listener)
