"""Time spent preparing fastbp's kernels, told apart from time spent training.

numba compiles a kernel the first time it meets a new combination of argument
types (a dtype, an optimizer family, dropout, ...): seconds per kernel on a
cold cache (README "Performance"), so the first epoch of a first ``fit`` is
mostly compiling. With a warm cache the first use still loads the kernels
and initialises numba's code generator, most of a second on the benchmark
host. Both happen while numba holds its compiler lock, whose events (kind
"numba:compiler_lock" of ``numba.core.event``) the clock times; numba's
"numba:compile" events, sent only when a kernel is really compiled, say
which kernel it is.
"""

import threading
import time

from numba.core import event

_LOCK, _COMPILE = "numba:compiler_lock", "numba:compile"


class CompileClock(event.Listener):
    """Context manager: ``seconds`` (float) this thread spent compiling numba
    functions or loading them from numba's cache while it was active.

    Any numba function counts (inside ``fit`` those are fastbp's kernels,
    unless a callback compiles its own). ``started(name)``, an attribute
    (None or a callable), is called when a function of ``package`` (a module
    name prefix) starts compiling (not loading), with its qualified name:
    for example to say why the first epoch is slow.
    """

    def __init__(self, package="fastbp", started=None):
        self.package = package
        self.seconds = 0.0
        self.started = started
        self._depth = 0
        self._since = 0.0
        self._thread = None

    def _ours(self, ev):
        if ev.kind == _LOCK:
            return True
        module = getattr(getattr(ev.data.get("dispatcher"), "py_func", None), "__module__", None) or ""
        return module == self.package or module.startswith(self.package + ".")

    def on_start(self, ev):
        if threading.get_ident() != self._thread or not self._ours(ev):
            return
        if ev.kind == _COMPILE:
            if self.started is not None:
                self.started(ev.data["dispatcher"].py_func.__qualname__)
            return
        self._depth += 1                        # the lock is re-entrant: time the outermost hold
        if self._depth == 1:
            self._since = time.perf_counter()

    def on_end(self, ev):
        if threading.get_ident() != self._thread or ev.kind != _LOCK or self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._since

    def __enter__(self):
        self._thread = threading.get_ident()
        event.register(_LOCK, self)
        event.register(_COMPILE, self)
        return self

    def __exit__(self, *exc):
        event.unregister(_COMPILE, self)
        event.unregister(_LOCK, self)
        return False
