"""What fastbp's patches to numba's private code share: whether that code
is the code a patch was written against, and which functions a patch handles.

fastbp's patches to numba (``_numba_inline``, ``_cache_load``) mirror,
call or skip numba methods that numba may change in any release; each
installs only when those methods' sources hash to the digests it lists,
and handles only functions defined in fastbp.
"""

import hashlib
import inspect

#: Module prefix of the functions the patches handle.
PACKAGE = "fastbp."


def is_fastbp(function):
    """True if ``function`` (or None) is defined in a fastbp module."""
    return (getattr(function, "__module__", None) or "").startswith(PACKAGE)


def stock(owners, known):
    """{"Owner.method": function or None} for the names in ``known``, looked up
    on ``owners`` ({"Owner": class}); taken before any patch replaces one."""
    return {name: getattr(owners.get(name.split(".")[0]), name.split(".")[1], None) for name in known}


def matches(functions, known):
    """True if each of ``functions`` (from ``stock``) has the source whose sha256
    starts with its digest in ``known`` ({"Owner.method": 16 hex digits})."""
    try:
        return all(hashlib.sha256(inspect.getsource(functions[name]).encode()).hexdigest()[:16] == digest
                   for name, digest in known.items())
    except (KeyError, OSError, TypeError):   # a method missing or renamed, or its source unavailable
        return False
